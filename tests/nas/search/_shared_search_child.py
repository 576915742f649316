"""One process of a shared search (run by test_shared_resume.py): a slow fake evaluator,
a journal study shared with other processes; writes the RL policy it ends with."""

from __future__ import annotations

import json
import sys
import time

from nas import Evaluation, Evaluator, SearchConfig, run_search
from nas.search import ReinforceSampler
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices, count_flops

SPACE = MBConvSpace.uniform(
    search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5),
    StageChoices(kernels=(3, 5, 7), expand_ratios=(1, 6), se_ratios=(0.0, 0.25)),
)


class Slow(Evaluator):
    """Accuracy from FLOPs (deterministic), after a pause long enough to be killed in."""

    def evaluate(self, spec, *, seed, progress=None):
        time.sleep(0.15)
        return Evaluation(accuracy=0.8 + 0.001 * (count_flops(spec) // 1000 % 53))


def main() -> None:
    run_dir, storage, strategy, trials, policy_file = sys.argv[1:6]
    # Every candidate trains: the band is not what this child is for.
    config = SearchConfig(
        target=4e6, trials=int(trials), strategy=strategy, seed=5, target_tolerance=None
    )
    study = run_search(
        space=SPACE, evaluator=Slow(), config=config, run_dir=run_dir, storage=storage
    )
    sampler = study.sampler
    policy = sampler.policy(study) if isinstance(sampler, ReinforceSampler) else {}
    with open(policy_file, "w", encoding="utf-8") as handle:
        json.dump(policy, handle)


if __name__ == "__main__":
    main()
