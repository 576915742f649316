"""EfficientNet's claims on the rank bed (issue 28): first, budgets that train the big networks.

``--part budget``: the largest network of the studies,
the search proxy scaled by the paper's coefficients (alpha 1.2, beta 1.1, gamma 1.15) to
phi = 2 (4x its real FLOPs, matched within 3% as ``cnas scaling-curves`` matches it),
trained with the proxy recipe for E and for 2E epochs on the same ``--train-images``,
from ``--seeds`` paired seeds. If 2E epochs add nothing distinguishable (the paired
difference's 95% interval holds 0, or it is under one point), E trains the largest
network near convergence, and the scaling curves and the grid can use E for every
network. Each training is kept in ``runs/bench-paper-budget-<data>/`` (ignored):
a killed run resumes where it stopped.

    .venv/bin/python benchmarks/paper_claims.py fashion-mnist --part budget
    .venv/bin/python benchmarks/paper_claims.py cifar10 --data-root ../shared/data/cifar10

``--part curves`` (item 2): ``cnas scaling-curves`` on ``--backbone`` (default: the
searched baseline of ``--part searched``; ``skeleton``: the proxy's), phi 0-2, 3 seeds,
with the paper's coefficients; then, once ``--part grid`` has run, with the grid's own,
taking every point the two share (the base and the single-dimension scalings) from the
first (``--reuse-results``).

``--part grid`` (item 3): ``cnas coefficients`` on the same backbone (step 0.1, product
within 5% of 2, 3 seeds for the finalists), its references taken from the curves.

The order per data set: budget, searched, grid, curves (the curves then draw both the
paper's and the grid's coefficients in one run).

``--part table`` (item 5): the claims table (README, BENCHMARKS.md) from the results files
of both data sets, also written to ``benchmarks/results/paper_claims_table.md`` and between
the markers in README.md and BENCHMARKS.md, and each data set's figure (scaling curves;
searched family against the skeleton's) to ``benchmarks/results/paper_claims_<data>.png``.

``--part searched`` (item 4): ``cnas search`` (TPE) and ``cnas search --strategy random``
at the skeleton's FLOPs, each ``--trials`` proxy trainings (the bed's 3 epochs) and the
same confirmation (the best 3 retrained alone at the budget's epochs): equal cost. Then
the searched baseline, the skeleton at the searched baseline's FLOPs (its width matched)
and random's baseline, each trained on 5 paired seeds whose data splits are not the one
the searches chose on; then the paper's compound families (phi 1-2, FLOPs matched to 2^phi)
of the searched baseline and of the matched skeleton, 3 seeds a member: at each phi the
two cost the same, so the paired difference says whether the searched family dominates.
Each training is kept in ``runs/bench-paper-<data>/searched/``.

Every part trains with the proxy recipe at the budget ``--part budget`` chose (E epochs
where 2E added nothing distinguishable, else 2E) on ``--train-images``, and keeps its
run directory under ``runs/bench-paper-<data>/`` (ignored, resumable).

Writes the part's entry of ``benchmarks/results/paper_claims_<data>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _bed import DEPTH, RESOLUTION, RESULTS, ROOT, WIDTH, add_bed_arguments, proxy_skeleton
from _bed import EPOCHS as PROXY_EPOCHS
from _claims_plot import claims_plot
from _claims_table import DATA_LABELS, claims_table, curve_points, with_table
from _machine import machine


def largest_network(data: str) -> tuple[Any, int]:
    """(spec, resolution) of the proxy's compound point at phi 2, paper coefficients."""
    from nas.coefficients import BackboneScaler
    from nas.curves import PAPER, CurvesConfig, build_curve_points
    from nas.models import SpecBackbone

    proxy = proxy_skeleton(data)
    backbone = SpecBackbone(proxy)
    shape = {"num_classes": proxy.num_classes, "in_channels": proxy.in_channels}
    config = CurvesConfig(phis=(0, 2), coefficients=PAPER, resolution=RESOLUTION[data])
    found = build_curve_points(config, BackboneScaler(backbone, shape))
    point = next(c for c in found.candidates if c.kind == "compound" and c.phi == 2)
    # The spec's own resolution field, exactly the matched point's (no rounding to 4).
    spec = dataclasses.replace(
        backbone.scaled_spec(**point.build_arguments(), **shape), resolution=point.resolution
    )
    return spec, point.resolution


def _train(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from nas import TrainingConfig, TrainingEvaluator, load_data

    spec, resolution = largest_network(job["data"])
    data = load_data(
        job["data"],
        resolution=resolution,
        root=job["root"],
        max_samples=job["train_images"] * 5 // 4,
        seed=0,
    )
    config = TrainingConfig(epochs=job["epochs"], threads=1)
    started = time.perf_counter()
    evaluation = TrainingEvaluator(data=data, config=config).evaluate(spec, seed=job["seed"])
    return {
        **job,
        "accuracy": evaluation.accuracy,
        "train_loss": evaluation.metrics["train_loss"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def budget(args: argparse.Namespace) -> dict[str, Any]:
    from nas.stats import compare_by_seed, summarise_seeds
    from search_spaces import count_flops

    out = ROOT / "runs" / f"bench-paper-budget-{args.data}"
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        {"data": args.data, "root": args.data_root, "train_images": args.train_images,
         "epochs": epochs, "seed": seed}
        for epochs in (args.epochs, 2 * args.epochs)
        for seed in range(1, args.seeds + 1)
    ]  # fmt: skip
    done = {}
    for job in jobs:
        path = _path(out, job)
        if path.exists():
            done[path] = json.loads(path.read_text())
    todo = [j for j in jobs if _path(out, j) not in done]
    print(f"budget: {len(done)} of {len(jobs)} trainings kept, {len(todo)} to run", flush=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for result in pool.map(_train, todo):
            path = _path(out, result)
            path.write_text(json.dumps(result) + "\n")
            done[path] = result
            print(f"  {result['epochs']} epochs, seed {result['seed']}: "
                  f"{result['accuracy']:.4f} in {result['seconds']:.0f} s", flush=True)  # fmt: skip
    runs = sorted(done.values(), key=lambda r: (r["epochs"], r["seed"]))
    spec, resolution = largest_network(args.data)
    base = proxy_skeleton(args.data)
    by_epochs = {
        e: {r["seed"]: r["accuracy"] for r in runs if r["epochs"] == e}
        for e in (args.epochs, 2 * args.epochs)
    }
    summaries = {e: summarise_seeds(list(v.values())) for e, v in by_epochs.items()}
    longer = compare_by_seed(
        by_epochs[2 * args.epochs], by_epochs[args.epochs],
        a_label=f"{2 * args.epochs} epochs", b_label=f"{args.epochs} epochs",
    )  # fmt: skip
    # Within noise over 3 or more seeds, or a gain under one point: E is enough.
    near = longer.n >= 3 and (not longer.distinguishable or abs(longer.difference) < 1.0)
    return {
        "network": {
            "phi": 2,
            "coefficients": "paper (1.2, 1.1, 1.15)",
            "resolution": resolution,
            "flops": count_flops(spec),
            "flops_over_proxy": round(count_flops(spec) / count_flops(base), 3),
            "spec": spec.to_dict(),
        },
        "train_images": args.train_images,
        "epochs": {
            str(e): {"mean": s.mean, "low": s.low, "high": s.high, "seeds": s.n}
            for e, s in summaries.items()
        },
        "longer_minus_shorter": longer.as_dict(),
        "near_convergence": near,
        "seconds_per_training": {
            str(e): round(statistics.fmean(r["seconds"] for r in runs if r["epochs"] == e), 1)
            for e in (args.epochs, 2 * args.epochs)
        },
        "runs": runs,
    }


def _root(args: argparse.Namespace) -> Path:
    """The run directories' folder (apart for a smoke run)."""
    return ROOT / "runs" / f"bench-paper-{args.data}{'-smoke' if args.smoke else ''}"


def _results(args: argparse.Namespace) -> dict[str, Any]:
    """What the results file of ``args.data`` holds so far (apart for a smoke run)."""
    folder = Path("/tmp") if args.smoke else RESULTS
    path = folder / f"paper_claims_{args.data.replace('-', '_')}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _chosen_epochs(args: argparse.Namespace) -> int:
    """The epochs ``--part budget`` found enough: E, or 2E where 2E still helped."""
    if args.smoke:
        return 1
    data = args.data
    path = RESULTS / f"paper_claims_{data.replace('-', '_')}.json"
    found = json.loads(path.read_text()).get("budget") if path.exists() else None
    if not found:
        sys.exit(f"paper_claims: run --part budget for {data} first: it sets the epochs")
    shorter, longer = sorted(int(e) for e in found["epochs"])
    return shorter if found["near_convergence"] else longer


def _backbone(args: argparse.Namespace, root: Path) -> tuple[Path, str]:
    """(spec file, tag) of the backbone curves and grid scale: the searched baseline
    (``--part searched`` first), the proxy's skeleton, or a spec file."""
    if args.backbone == "searched":
        path = root / "search-tpe" / "baseline.json"
        if not path.exists():  # a new checkout: the results file keeps the baseline's spec
            from search_spaces import NetworkSpec

            found = _results(args).get("searched", {}).get("points", {}).get("searched-phi0")
            if not found:
                sys.exit("paper_claims: run --part searched first: the grid and the curves "
                         "scale its baseline (or give --backbone skeleton)")  # fmt: skip
            path.parent.mkdir(parents=True, exist_ok=True)
            NetworkSpec.from_dict(found["spec"]).save(path)
        return path, "searched"
    if args.backbone == "skeleton":
        path = root / "proxy.json"
        if not path.exists():
            proxy_skeleton(args.data).save(path)
        return path, "skeleton"
    return Path(args.backbone).resolve(), Path(args.backbone).stem


def _cnas(
    args: argparse.Namespace, command: list[str], out: Path, *, epochs: int | None = None
) -> dict[str, Any]:
    """Run a ``cnas`` command with the bed's data and budget (or ``epochs``); its summary."""
    epochs = epochs or _chosen_epochs(args)
    full = [
        sys.executable, "-m", "experiments.cli", *command,
        "--data", args.data, "--resolution", str(RESOLUTION[args.data]),
        "--epochs", str(epochs), "--max-samples", str(args.train_images * 5 // 4),
        "--backend", "ray", "--max-concurrent", str(args.workers),
        "--out", str(out), "--json", "--no-progress",
    ]  # fmt: skip
    if args.data_root:
        full += ["--data-root", args.data_root]
    started = time.perf_counter()
    done = subprocess.run(full, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"paper_claims: {' '.join(command[:2])} stopped:\n{done.stderr[-2000:]}")
    return {
        "command": "cnas " + " ".join(full[3:]).replace(str(ROOT) + "/", ""),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "summary": json.loads(done.stdout),
    }


def curves(args: argparse.Namespace) -> dict[str, Any]:
    root = _root(args)
    root.mkdir(parents=True, exist_ok=True)
    backbone, tag = _backbone(args, root)
    common = ["scaling-curves", str(backbone), "--phis", "0-2", "--seeds", "3"]
    paper_dir, grid_dir = root / f"curves-paper-{tag}", root / f"grid-{tag}"
    paper = [*common, "--coefficients", "1.2,1.1,1.15"]
    if (grid_dir / "study.db").exists():  # the base and the phi-1 single dimensions
        paper += ["--reuse-results", str(grid_dir)]
    found = {"backbone": tag, "paper": _cnas(args, paper, paper_dir)}
    found["paper"]["points"] = curve_points(paper_dir / "curves.csv")
    grid = grid_dir / "coefficients.json"
    if grid.exists():
        command = [*common, "--coefficients-file", str(grid)]
        command += ["--reuse-results", str(paper_dir), "--reuse-results", str(grid_dir)]
        found["grid"] = _cnas(args, command, root / f"curves-grid-{tag}")
        found["grid"]["points"] = curve_points(root / f"curves-grid-{tag}" / "curves.csv")
    else:
        print(
            "curves: no grid yet (--part grid): the grid's coefficients are not drawn", flush=True
        )
    return found


def grid(args: argparse.Namespace) -> dict[str, Any]:
    root = _root(args)
    root.mkdir(parents=True, exist_ok=True)
    backbone, tag = _backbone(args, root)
    command = [
        "coefficients", str(backbone), "--step", "0.1", "--tolerance", "5", "--seeds", "3",
    ]  # fmt: skip
    if (root / f"curves-paper-{tag}" / "study.db").exists():
        command += ["--reuse-results", str(root / f"curves-paper-{tag}")]
    return {"backbone": tag, **_cnas(args, command, root / f"grid-{tag}")}


# --- item 4: searched against hand-made and random ----------------------------------------

PAIRED_SEEDS = (1, 2, 3, 4, 5)  # data splits other than the searches' split 0
FAMILY_SEEDS = (1, 2, 3)
FAMILY_PHIS = (1, 2)


def _train_spec(job: dict[str, Any]) -> dict[str, Any]:
    """One network trained with the proxy recipe on split ``seed``: accuracy and time."""
    import torch

    torch.set_num_threads(1)
    from nas import TrainingConfig, TrainingEvaluator, load_data
    from search_spaces import NetworkSpec

    spec = NetworkSpec.from_dict(job["spec"])
    data = load_data(
        job["data"], resolution=spec.resolution, root=job["root"],
        max_samples=job["train_images"] * 5 // 4, seed=job["seed"],
    )  # fmt: skip
    config = TrainingConfig(epochs=job["epochs"], threads=1)
    started = time.perf_counter()
    evaluation = TrainingEvaluator(data=data, config=config).evaluate(spec, seed=job["seed"])
    return {
        **{k: v for k, v in job.items() if k != "spec"},
        "accuracy": evaluation.accuracy,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _networks(args: argparse.Namespace, root: Path) -> dict[tuple[str, int], Any]:
    """(name, phi) -> spec: the two baselines, the matched skeleton, and both families."""
    from scaling import (
        CompoundCoefficients,
        match_flops,
        matched_family,
        scale_network,
        spec_scaler,
    )
    from search_spaces import NetworkSpec, count_flops

    searched = NetworkSpec.load(root / "search-tpe" / "baseline.json")
    random_best = NetworkSpec.load(root / "search-random" / "baseline.json")
    skeleton = proxy_skeleton(args.data)
    flops_at, _ = spec_scaler(skeleton)
    match = match_flops(
        flops_at, depth_mult=1.0, width_mult=1.0, resolution=skeleton.resolution,
        target=count_flops(searched), vary=("width",), tolerance=0.05,
    )  # fmt: skip
    matched = scale_network(
        skeleton, width_mult=match.closest.width_mult, depth_mult=1.0,
        resolution=skeleton.resolution, resolution_divisor=1,
    )  # fmt: skip
    networks = {("searched", 0): searched, ("random", 0): random_best, ("skeleton", 0): matched}
    paper = CompoundCoefficients(1.2, 1.1, 1.15)
    for name, base in (("searched", searched), ("skeleton", matched)):
        for member in matched_family(base, paper, phis=(0, *FAMILY_PHIS))[1:]:
            networks[(name, member.phi)] = member.spec
    return networks


def searched(args: argparse.Namespace) -> dict[str, Any]:
    from nas.stats import compare_by_seed, summarise_seeds
    from search_spaces import count_flops

    root = _root(args)
    root.mkdir(parents=True, exist_ok=True)
    epochs = _chosen_epochs(args)
    target = count_flops(proxy_skeleton(args.data))
    search_epochs = 1 if args.smoke else PROXY_EPOCHS  # the bed's proxy
    common = [
        "search", "--target-flops", str(target), "--trials", str(args.trials),
        "--confirm-top", "3", "--confirm-epochs", str(max(epochs, search_epochs + 1)),
        "--seed", "0", "--width-mult", str(WIDTH), "--depth-mult", str(DEPTH),
    ]  # fmt: skip
    searches = {}
    for strategy in ("tpe", "random"):
        command = [*common, "--strategy", strategy]
        searches[strategy] = _cnas(args, command, root / f"search-{strategy}", epochs=search_epochs)
    networks = _networks(args, root)
    out = root / "searched"
    out.mkdir(exist_ok=True)
    jobs = [
        {"data": args.data, "root": args.data_root, "train_images": args.train_images,
         "epochs": epochs, "name": name, "phi": phi, "seed": seed, "spec": spec.to_dict()}
        for (name, phi), spec in networks.items()
        for seed in (PAIRED_SEEDS if phi == 0 else FAMILY_SEEDS)
    ]  # fmt: skip

    def path(job: dict[str, Any]) -> Path:
        return out / f"{job['name']}-phi{job['phi']}-s{job['seed']}-e{job['epochs']}.json"

    done = [json.loads(path(j).read_text()) for j in jobs if path(j).exists()]
    todo = [j for j in jobs if not path(j).exists()]
    print(f"searched: {len(done)} of {len(jobs)} trainings kept, {len(todo)} to run", flush=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for result in pool.map(_train_spec, todo):
            path(result).write_text(json.dumps(result) + "\n")
            done.append(result)
            print(f"  {result['name']} phi {result['phi']} seed {result['seed']}: "
                  f"{result['accuracy']:.4f} in {result['seconds']:.0f} s", flush=True)  # fmt: skip
    accuracy = {
        key: {r["seed"]: r["accuracy"] for r in done if (r["name"], r["phi"]) == key}
        for key in networks
    }
    points = {}
    for (name, phi), spec in networks.items():
        summary = summarise_seeds(list(accuracy[(name, phi)].values()))
        points[f"{name}-phi{phi}"] = {
            "name": name, "phi": phi, "flops": count_flops(spec),
            "resolution": spec.resolution, "mean": summary.mean, "low": summary.low,
            "high": summary.high, "seeds": summary.n, "spec": spec.to_dict(),
        }  # fmt: skip

    def versus(a: str, b: str, phi: int) -> dict[str, Any]:
        return compare_by_seed(
            accuracy[(a, phi)], accuracy[(b, phi)], a_label=f"{a} phi {phi}",
            b_label=f"{b} phi {phi}",
        ).as_dict()  # fmt: skip

    family = {str(phi): versus("searched", "skeleton", phi) for phi in (0, *FAMILY_PHIS)}
    ahead = [family[str(phi)] for phi in (0, *FAMILY_PHIS)]
    if all(c["distinguishable"] and c["difference_points"] > 0 for c in ahead):
        verdict = "the searched family dominates: ahead at every phi, each beyond noise"
    elif any(c["distinguishable"] and c["difference_points"] < 0 for c in ahead):
        verdict = "the searched family does not dominate: the skeleton's is ahead at some phi"
    else:
        verdict = "within noise at this budget at some phi: no dominance shown"
    return {
        "searches": searches,
        "epochs": epochs,
        "train_images": args.train_images,
        "points": points,
        "searched_minus_skeleton": family["0"],
        "searched_minus_random": versus("searched", "random", 0),
        "families": family,
        "families_verdict": verdict,
    }


def _path(out: Path, job: dict[str, Any]) -> Path:
    return out / f"e{job['epochs']}-s{job['seed']}-n{job['train_images']}.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bed_arguments(parser)
    parser.add_argument(
        "--part", choices=("budget", "curves", "grid", "searched", "table"), default="budget"
    )
    parser.add_argument(
        "--backbone",
        default="searched",
        help="what curves and grid scale: searched (the --part searched baseline, default), "
        "skeleton (the proxy's), or a spec JSON file",
    )
    parser.add_argument("--epochs", type=int, default=6, help="E: the budget checked (6)")
    parser.add_argument(
        "--train-images", type=int, default=2400, help="training images (2,400: the proxy's)"
    )
    parser.add_argument("--seeds", type=int, default=3, help="paired seeds (3)")
    parser.add_argument("--workers", type=int, default=2, help="trainings at a time (2)")
    parser.add_argument("--trials", type=int, default=30, help="candidates each search trains (30)")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    started = time.perf_counter()
    # Tiny budgets, their own run directories, results in /tmp: checks the code path.
    out = (
        Path("/tmp") if args.smoke else RESULTS
    ) / f"paper_claims_{args.data.replace('-', '_')}.json"
    if args.part == "table":
        folder = Path("/tmp") if args.smoke else RESULTS
        documents = {}
        for data in ("fashion-mnist", "cifar10"):
            path = folder / f"paper_claims_{data.replace('-', '_')}.json"
            if path.exists():
                documents[data] = json.loads(path.read_text())
        table = claims_table(documents)
        (folder / "paper_claims_table.md").write_text(table)
        for data, document in documents.items():
            figure = folder / f"paper_claims_{data.replace('-', '_')}.png"
            claims_plot(DATA_LABELS.get(data, data), document, figure)
        for name in () if args.smoke else ("README.md", "BENCHMARKS.md"):
            page = ROOT / name
            page.write_text(with_table(page.read_text(), table))
        print(table, end="")
        return
    if args.part != "budget":
        found = {"curves": curves, "grid": grid, "searched": searched}[args.part](args)
        document = json.loads(out.read_text()) if out.exists() else {}
        document[args.part] = {
            "benchmark_command": " ".join([".venv/bin/python", "benchmarks/paper_claims.py",
                                           *sys.argv[1:]]),
            "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M %z"),
            "epochs": _chosen_epochs(args), **found,
        }  # fmt: skip
        out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote the {args.part} part of {out}")
        return
    found = budget(args)
    document = json.loads(out.read_text()) if out.exists() else {}
    command = f".venv/bin/python benchmarks/paper_claims.py {args.data} --part budget"
    command += f" --epochs {args.epochs} --train-images {args.train_images}"
    command += f" --seeds {args.seeds}"
    if args.data_root:
        command += f" --data-root {args.data_root}"
    document["budget"] = {
        "command": command,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        **found,
    }
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    e = args.epochs
    print(f"{e} epochs: {found['epochs'][str(e)]['mean']:.4f}; {2 * e} epochs: "
          f"{found['epochs'][str(2 * e)]['mean']:.4f}; "
          f"{found['longer_minus_shorter']['sentence']}; near convergence: "
          f"{found['near_convergence']}; wrote {out.relative_to(ROOT)}")  # fmt: skip


if __name__ == "__main__":
    main()
