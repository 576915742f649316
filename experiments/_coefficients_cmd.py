"""cnas coefficients: grid-search alpha, beta, gamma for a backbone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from experiments._common import (
    CliError,
    check_writable_dir,
    format_table,
    percent,
    positive_int,
    print_json,
)
from experiments._seeded_runs import (
    SeedProgress,
    add_reuse_argument,
    check_finite,
    interval,
    reusable,
    trainer_and_backbone,
    training_settings,
    trial_counts,
)
from experiments._training_args import (
    add_run_arguments,
    add_training_arguments,
    apply_threads,
    prepare_backend,
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "coefficients",
        help="grid-search compound coefficients alpha, beta, gamma for a backbone",
        description="Scale the backbone at phi = 1 by every (alpha, beta, gamma) on a grid with "
        "alpha * beta^2 * gamma^2 within --tolerance of --base, train each, keep the best.",
    )
    parser.add_argument(
        "backbone",
        help="a preset, a spec JSON file (e.g. a search's baseline.json), resnet18/34/50/101, "
        "mobilenetv2, or package.module:function taking (width_mult, depth_mult, num_classes)",
    )
    parser.add_argument("--resolution", type=positive_int, default=32, help="phi = 0 input size")
    parser.add_argument("--step", type=float, default=0.05, help="grid spacing (0.05)")
    parser.add_argument("--low", type=float, default=1.0, help="smallest coefficient (1.0)")
    parser.add_argument("--high", type=float, default=2.0, help="largest coefficient (2.0)")
    parser.add_argument("--base", type=float, default=2.0, help="target alpha*beta^2*gamma^2 (2)")
    parser.add_argument(
        "--tolerance",
        type=percent,
        default=0.05,
        metavar="PCT",
        help="allowed distance of alpha*beta^2*gamma^2 from --base, in percent of it "
        "(5: 1.9 to 2.1 at base 2)",
    )
    parser.add_argument(
        "--match",
        choices=("actual", "nominal"),
        default="actual",
        help="actual (default): move each candidate, as little as it takes, until its real "
        "FLOPs are within --match-tolerance of --base x the backbone's; nominal: scale as the "
        "paper writes it, whatever the rounding does to the FLOPs",
    )
    parser.add_argument(
        "--match-tolerance",
        type=percent,
        default=0.03,
        metavar="PCT",
        help="with --match actual: allowed FLOP error, in percent (3)",
    )
    parser.add_argument(
        "--filter-actual",
        action="store_true",
        help="with --match nominal: drop candidates whose FLOP ratio after rounding is further "
        "than --tolerance from --base",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="seeds every finalist and reference trains with (3); successive halving: every "
        "candidate trains once, the best --keep fraction again with a new seed, and so on",
    )
    parser.add_argument(
        "--keep", type=float, default=0.5, help="fraction kept per halving round (0.5)"
    )
    add_reuse_argument(parser)
    add_training_arguments(parser)
    add_run_arguments(parser, default_out="runs/coefficients")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.coefficients import (
        BackboneScaler,
        CoefficientConfig,
        build_candidates,
        run_coefficient_search,
        write_coefficient_report,
    )

    check_finite(args, "step", "low", "high", "base", "tolerance", "lr", "match_tolerance", "keep")
    out = check_writable_dir(args.out, "--out")
    apply_threads(args)
    config = CoefficientConfig(
        step=args.step,
        low=args.low,
        high=args.high,
        base=args.base,
        tolerance=args.tolerance * args.base,  # the library's is a distance from base
        match=args.match,
        match_tolerance=args.match_tolerance,
        filter_actual=args.filter_actual,
        resolution=args.resolution,
        seeds=args.seeds,
        keep=args.keep,
        seed=args.seed,
    )
    trainer, backbone, shape = trainer_and_backbone(args)
    reuse = reusable(args)
    found = build_candidates(config, BackboneScaler(backbone, shape))
    candidates = found.candidates
    if not any(c.kind == "compound" for c in candidates):
        reason = found.unmatched[0].reason if found.unmatched else "the grid is empty"
        raise CliError(
            f"no grid candidate can be matched to {args.base:g}x the backbone's FLOPs within "
            f"{args.match_tolerance:.0%} ({reason}); raise --match-tolerance or use --match nominal"
        )
    ray = prepare_backend(args, trials=len(candidates) * args.seeds)
    settings = {**training_settings(args), "match": args.match}
    progress = SeedProgress("coefficients", args.seeds, enabled=not (args.no_progress or args.json))

    def on_trial(study: Any, trial: Any) -> None:
        progress.on_trial(trial)
        write_coefficient_report(
            study,
            out,
            backbone=backbone.name,
            base_resolution=args.resolution,
            settings=settings,
            plot=False,
        )

    try:
        study = run_coefficient_search(
            backbone=backbone,
            candidates=candidates,
            evaluate=trainer,
            config=config,
            run_dir=out,
            storage=args.storage,
            ray=ray,
            on_trial=on_trial,
            on_round=progress.on_round,
            unmatched=found.unmatched,
            reuse=reuse,
            **shape,
        )
    finally:
        progress.close()
    summary = write_coefficient_report(
        study, out, backbone=backbone.name, base_resolution=args.resolution, settings=settings
    )
    if args.json:
        print_json(summary)
    else:
        print(_render(summary, out))
    return 0


def _render(summary: dict[str, Any], out: Path) -> str:
    rows = []
    for kind in ("base", "depth", "width", "resolution"):
        if kind in summary["references"]:
            ref = summary["references"][kind]
            rows.append({"what": kind if kind == "base" else f"{kind} only", **ref})
    chosen = summary["chosen"]
    if chosen:
        rows.append({"what": "compound (chosen)", **chosen})
    for row in rows:
        row["interval"] = interval(row)
    columns = [
        ("what", ""),
        ("alpha", "alpha"),
        ("beta", "beta"),
        ("gamma", "gamma"),
        ("depth_mult", "depth"),
        ("width_mult", "width"),
        ("resolution", "res"),
        ("actual_ratio", "FLOPs/base"),
        ("seeds", "seeds"),
        ("mean_accuracy", "mean acc"),
        ("interval", "95% interval"),
    ]
    unmatched = summary.get("unmatched") or []
    lines = [
        f"\n{summary['backbone']}: {summary['candidates']} grid candidates "
        f"({trial_counts(summary)})"
        + (f"; {len(unmatched)} could not be matched to equal FLOPs" if unmatched else "")
        + ".",
        format_table(rows, columns),
        summary["verdict"],
    ]
    if chosen:
        lines.append(f"Chosen coefficients -> {out / 'coefficients.json'}")
    lines.append(f"Outputs: {out}/coefficients.csv, trials.csv, heatmap.png, summary.json")
    return "\n".join(lines)
