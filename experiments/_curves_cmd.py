"""cnas scaling-curves: depth, width, resolution and compound scaling at equal FLOPs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from experiments._common import CliError, check_writable_dir, format_table, percent, print_json
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
        "scaling-curves",
        help="the paper's claim: depth-, width-, resolution-only and compound scaling of a "
        "backbone at equal real FLOPs per phi, over seeds, with a verdict per phi",
        description="Scale the backbone by depth only, width only, resolution only and by "
        "compound coefficients to base^phi times its FLOPs (each matched within "
        "--match-tolerance), train every point with --seeds seeds, and compare compound "
        "with each single-dimension scaling seed by seed (EfficientNet Fig. 3 / Table 3).",
    )
    parser.add_argument(
        "backbone",
        help="a preset, a spec JSON file (e.g. a search's baseline.json), resnet18/34/50/101, "
        "mobilenetv2, or package.module:function taking (width_mult, depth_mult, num_classes)",
    )
    parser.add_argument("--resolution", type=int, default=32, help="phi = 0 input size (32)")
    parser.add_argument("--phis", default="0-3", help="phis to train, e.g. 0-3 or 0,2 (0-3)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per point (3)")
    parser.add_argument("--base", type=float, default=2.0, help="FLOP growth per phi (2)")
    parser.add_argument(
        "--match-tolerance",
        type=percent,
        default=0.03,
        metavar="PCT",
        help="allowed FLOP error, in percent (3)",
    )
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "--coefficients", metavar="A,B,G", help="compound alpha,beta,gamma (default 1.2,1.1,1.15)"
    )
    given.add_argument(
        "--coefficients-file",
        metavar="FILE",
        help="coefficients.json written by cnas coefficients (the coefficients it found)",
    )
    add_reuse_argument(parser)
    add_training_arguments(parser)
    add_run_arguments(parser, default_out="runs/scaling-curves")
    parser.set_defaults(run=run)


def _coefficients(args: argparse.Namespace) -> Any:
    from nas.curves import PAPER
    from scaling import parse_coefficients, read_coefficients_file

    if args.coefficients:
        return parse_coefficients(args.coefficients)
    if args.coefficients_file:
        return read_coefficients_file(args.coefficients_file)
    return PAPER


def run(args: argparse.Namespace) -> int:
    from nas.coefficients import BackboneScaler
    from nas.curves import CurvesConfig, build_curve_points, run_scaling_curves, write_curves_report
    from scaling import parse_phis

    check_finite(args, "base", "lr", "match_tolerance")
    out = check_writable_dir(args.out, "--out")
    apply_threads(args)
    coefficients = _coefficients(args)
    config = CurvesConfig(
        phis=parse_phis(args.phis),
        coefficients=coefficients,
        base=args.base,
        match_tolerance=args.match_tolerance,
        resolution=args.resolution,
        seeds=args.seeds,
        seed=args.seed,
    )
    trainer, backbone, shape = trainer_and_backbone(args)
    reuse = reusable(args)
    found = build_curve_points(config, BackboneScaler(backbone, shape))
    if len(found.candidates) < 2:
        raise CliError("--phis needs at least one phi > 0 to compare scalings; use e.g. 0-3")
    c = coefficients
    settings = {
        **training_settings(args),
        "phis": list(config.phis),
        "coefficients": {"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma},
        "base_resolution": args.resolution,
    }
    ray = prepare_backend(args, trials=len(found.candidates) * args.seeds)
    progress = SeedProgress("curves", args.seeds, enabled=not (args.no_progress or args.json))

    def on_trial(study: Any, trial: Any) -> None:
        progress.on_trial(trial)
        write_curves_report(study, out, backbone=backbone.name, settings=settings, plot=False)

    try:
        study = run_scaling_curves(
            backbone=backbone,
            points=found.candidates,
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
    summary = write_curves_report(study, out, backbone=backbone.name, settings=settings)
    if args.json:
        print_json(summary)
    else:
        print(_render(summary, out))
    return 0


def _render(summary: dict[str, Any], out: Path) -> str:
    import pandas as pd

    table = pd.read_csv(out / "curves.csv")
    rows = table.to_dict("records")
    for row in rows:
        row["interval"] = interval(row)
    columns = [
        ("phi", "phi"),
        ("method", "method"),
        ("depth_mult", "depth"),
        ("width_mult", "width"),
        ("resolution", "res"),
        ("actual_ratio", "FLOPs/base"),
        ("seeds", "seeds"),
        ("mean_accuracy", "mean acc"),
        ("interval", "95% interval"),
    ]
    unmatched = summary.get("unmatched") or []
    left_out = ", ".join(u["label"] for u in unmatched)
    head = f"\n{summary['backbone']}: {summary['points']} points ({trial_counts(summary)})"
    if left_out:
        head += f"; left out (cannot be matched): {left_out}"
    verdicts = summary["verdict"].replace(" phi=", "\nphi=")
    return "\n".join(
        [head + ".", format_table(rows, columns), verdicts, f"Outputs: {out}/curves.csv, "
         "trials.csv, curves.png, summary.json"]
    )  # fmt: skip
