"""The rank bed the ranking benchmarks share (proxy_recipe, predictor_rank, int8,
supernet_variants): data sets and resolutions, the proxy's and the reference's budgets,
and the networks, drawn as ``cnas rank-check`` draws them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESOLUTION = {"cifar10": 32, "fashion-mnist": 28}
CHANNELS = {"cifar10": 3, "fashion-mnist": 1}
WIDTH, DEPTH = 0.5, 0.5  # the search proxy's skeleton
TRAIN_IMAGES = 2400  # the proxy's budget: 3 epochs on 2,400 images
PROXY_SAMPLES = TRAIN_IMAGES * 5 // 4  # 3,000 drawn: 2,400 train, 600 validate
EPOCHS = 3
REFERENCE_SAMPLES, REFERENCE_EPOCHS, REFERENCE_SEEDS = 4000, 5, 3
SEED = 0  # the rank check's seed: which networks it draws


def proxy_skeleton(data: str, resolution: int | None = None) -> Any:
    """The search proxy the bed's space is built around."""
    from scaling import search_proxy

    return search_proxy(
        resolution=resolution or RESOLUTION[data],
        in_channels=CHANNELS[data],
        num_classes=10,
        width_mult=WIDTH,
        depth_mult=DEPTH,
    )


def bed_networks(data: str, count: int, seed: int = SEED, resolution: int | None = None) -> list:
    """The first ``count`` networks the rank check draws (its space, its seed)."""
    from search_spaces import MBConvSpace

    space = MBConvSpace.uniform(proxy_skeleton(data, resolution))
    return list(space.sample_distinct(count, seed))


def rank_check_options(
    data: str,
    networks: int,
    *,
    workers: int = 2,
    data_root: str | None = None,
    max_samples: int = PROXY_SAMPLES,
    epochs: int = EPOCHS,
    reference_samples: int = REFERENCE_SAMPLES,
    reference_epochs: int = REFERENCE_EPOCHS,
) -> list[str]:
    """``cnas rank-check``'s options for the bed (the proxy score only, on Ray)."""
    options = [
        *("--data", data, "--resolution", str(RESOLUTION[data])),
        *("--width-mult", str(WIDTH), "--depth-mult", str(DEPTH)),
        *("--max-samples", str(max_samples), "--epochs", str(epochs)),
        *("--reference-samples", str(reference_samples)),
        *("--reference-epochs", str(reference_epochs)),
        *("--reference-seeds", str(REFERENCE_SEEDS)),
        *("--scores", "proxy", "--networks", str(networks), "--seed", str(SEED)),
        *("--backend", "ray", "--max-concurrent", str(workers)),
    ]
    if data_root:
        options += ["--data-root", data_root]
    return options
