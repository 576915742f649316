"""The supernet trains once in the driver and goes to the Ray workers with the evaluator."""

from __future__ import annotations

import pytest
import torch

from nas import RayOptions, SearchConfig, run_search
from nas.data import load_data
from nas.evaluate import TrainingConfig
from nas.supernet import SUPERNET_FILE, SandwichConfig, SupernetEvaluator

pytest.importorskip("ray")


def test_ray_workers_score_candidates_as_this_process_does(tmp_path, space, ray_instance):
    data = load_data("digits", resolution=16, max_samples=160, seed=0)
    config = SandwichConfig(training=TrainingConfig(epochs=1, batch_size=64), random_subnets=1)
    search = SearchConfig(target=5e6, trials=4, strategy="random", target_tolerance=None)
    studies = {}
    for name, ray in (("local", None), ("ray", RayOptions(max_concurrent=2))):
        torch.manual_seed(len(studies))  # the run's seed alone decides the weights
        evaluator = SupernetEvaluator(data, space=space, config=config, seed=0)
        studies[name] = run_search(
            space=space, evaluator=evaluator, config=search, run_dir=tmp_path / name, ray=ray
        )
        assert (tmp_path / name / SUPERNET_FILE).is_file()
    # Trained once per run from the same seed; the workers score with those weights.
    here = {t.number: (t.params, t.user_attrs["accuracy"]) for t in studies["local"].trials}
    there = {t.number: (t.params, t.user_attrs["accuracy"]) for t in studies["ray"].trials}
    assert here == there and len(here) == 4
