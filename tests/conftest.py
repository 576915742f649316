"""Shared test helpers: random valid specs for property-style checks."""

from __future__ import annotations

import dataclasses
import os
import random

import pytest
import torch

from search_spaces import NetworkSpec, StageSpec

# Commands run one trial at a time here unless a test asks for Ray: `--backend auto` would
# start Ray for every search on a 2-core machine. test_backend_cli checks auto itself.
os.environ["CNAS_BACKEND"] = "local"
# `make test` runs one test process per core (pytest-xdist): a second torch thread in each
# would make both crawl, so every process, and every process a test starts, has one.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


def random_spec(rng: random.Random, *, resolution: int | None = None) -> NetworkSpec:
    """A small random valid MBConv network covering every block option, fused ones too."""
    stem = rng.choice([8, 16, 24, 32])
    stages = []
    previous = stem
    stride2 = 0
    for _ in range(rng.randint(1, 5)):
        stride = rng.choice([1, 2]) if stride2 < 3 else 1
        stride2 += stride == 2
        out = rng.choice([8, 12, 16, 24, 40])
        stage = StageSpec(
            repeats=rng.randint(1, 3),
            kernel=rng.choice([1, 3, 5, 7]),
            stride=stride,
            expand_ratio=rng.choice([1, 3, 4, 6]),
            in_channels=previous,
            out_channels=out,
            se_ratio=rng.choice([None, 0.25, 0.5, 1.0]),
            skip=rng.random() < 0.8,
        )
        if rng.random() < 0.3:  # Fused-MBConv (EfficientNetV2); e1 takes no SE there
            se = stage.se_ratio if stage.expand_ratio > 1 else None
            stage = dataclasses.replace(stage, fused=True, se_ratio=se)
        stages.append(stage)
        previous = out
    total_stride = 2 * 2**stride2
    return NetworkSpec(
        name=f"random-{rng.random():.6f}",
        stages=tuple(stages),
        stem_channels=stem,
        head_channels=rng.choice([32, 64, 128]),
        activation=rng.choice(["swish", "relu", "relu6"]),
        resolution=resolution or rng.choice([total_stride, 33, 40, 57, 64]),
        num_classes=rng.choice([2, 10, 100]),
        in_channels=rng.choice([1, 3]),
        stem_stride=2,
    )


@pytest.fixture
def make_random_spec():
    return random_spec


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what a test needs beyond this process, so `make test-fast` can leave it out:
    ray (the shared Ray instance, or a module about Ray) and postgres (the throwaway
    server), from its fixtures; subprocess and browser tests are marked by hand."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "ray_instance" in fixtures or "ray" in item.path.stem.split("_"):
            item.add_marker(pytest.mark.ray)
        if "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)
