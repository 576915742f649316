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


def add_bed_arguments(parser: Any) -> None:
    """The bed's data set and where its files are: every bed benchmark takes the same two."""
    parser.add_argument("data", choices=sorted(RESOLUTION), help="the bed's data set")
    parser.add_argument("--data-root", help="the data's directory (fashion-mnist: Debian's)")


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


def read_bed(data: str, caller: str) -> tuple[list[str], list[Any], list[float], dict[str, Any]]:
    """(names, specs, reference accuracies, rank summary) of the bed as
    ``proxy_recipe.py --part rank`` left it in its results file: the networks redrawn
    from the same space and seed and checked against the file's FLOPs, so a machine
    without the bed's run directory reads the same bed."""
    import json

    from search_spaces import count_flops

    path = RESULTS / f"proxy_recipe_{data.replace('-', '_')}.json"
    if not path.is_file():
        sys.exit(f"{caller}: {path} is missing: run benchmarks/proxy_recipe.py {data} first")
    rank = json.loads(path.read_text()).get("rank")
    if not rank or "per_network" not in rank:
        sys.exit(f"{caller}: {path} has no rank check with per-network results yet")
    rows = rank["per_network"]
    settings = rank["settings"]
    drawn = bed_networks(
        data,
        int(max(row["network"] for row in rows)) + 1,
        seed=settings["seed"],
        resolution=settings["resolution"],
    )
    specs = [drawn[int(row["network"])] for row in rows]
    for spec, row in zip(specs, rows, strict=True):
        if count_flops(spec) != row["flops"]:
            sys.exit(f"{caller}: network {row['network']} redrawn differs from {path}'s")
    names = [str(int(row["network"])) for row in rows]
    return names, specs, [float(row["reference_accuracy"]) for row in rows], rank
