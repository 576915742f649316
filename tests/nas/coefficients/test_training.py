"""CandidateTrainer: the coefficient grid's proxy training, on digits made small."""

import pytest
import torch

from nas.coefficients import CandidateTrainer
from nas.evaluate import TrainingConfig
from nas.models import CallableBackbone, ResNetBackbone

CONFIG = TrainingConfig(epochs=1, batch_size=32, threads=1)


def trainer(**kwargs):
    return CandidateTrainer(dataset="digits", config=CONFIG, max_samples=100, **kwargs)


def test_data_is_loaded_once_per_resolution():
    candidate = trainer()
    first = candidate.data_at(12)
    assert candidate.data_at(12) is first
    assert candidate.data_at(16).resolution == 16 and first.resolution == 12


def test_identity_names_the_data_and_the_training_but_not_threads():
    identity = trainer(seed=3).identity()
    assert identity["data"] == {"name": "digits", "root": None, "max_samples": 100, "seed": 3}
    assert identity["training"]["epochs"] == 1 and "threads" not in identity["training"]
    faster = CandidateTrainer(
        dataset="digits", config=TrainingConfig(epochs=1, batch_size=32, threads=2), max_samples=100
    )
    assert faster.identity() == trainer(seed=0).identity()


def test_an_rgb_only_backbone_gets_grayscale_repeated(monkeypatch):
    candidate = trainer()
    assert candidate.shape_for(ResNetBackbone(depth=18), 16) == {
        "num_classes": 10,
        "in_channels": 1,
    }
    rgb = CallableBackbone.__new__(CallableBackbone)  # shape_for only looks at the type
    assert candidate.shape_for(rgb, 16) == {"num_classes": 10, "in_channels": 3}
    seen = []

    def build():
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10)
        )
        seen.append(model)
        return model

    evaluation = candidate(build, resolution=16, name="rgb", seed=0)
    assert 0.0 <= evaluation.accuracy <= 1.0
    assert len(seen) == 1


def test_bad_data_options_fail_at_once():
    with pytest.raises(ValueError, match="unknown dataset"):
        CandidateTrainer(dataset="no-such-data", config=CONFIG).data_at(16)


def test_the_same_network_data_training_and_seed_give_the_same_numbers():
    """What --reuse-results rests on: a trial's result is a function of what its key
    hashes (the network, the data, the training, the torch seed)."""
    from nas.models import SpecBackbone
    from scaling import search_proxy

    backbone = SpecBackbone(
        search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)
    )
    runs = []
    for _ in range(2):  # two trainers, as two runs would build them
        trainer = CandidateTrainer(
            dataset="digits", config=TrainingConfig(epochs=1, threads=1), max_samples=200
        )
        shape = trainer.shape_for(backbone, 16)
        evaluation = trainer(
            lambda shape=shape: backbone.build(width_mult=1.2, depth_mult=1.0, **shape),
            resolution=16,
            name="wider",
            seed=7919,
        )
        runs.append((evaluation.accuracy, evaluation.metrics["train_loss"]))
    assert runs[0] == runs[1]
