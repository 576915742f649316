"""cnas family: a scaled family from a published table or compound coefficients."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

from experiments._common import (
    CliError,
    check_writable_dir,
    check_writable_file,
    format_table,
    percent,
    print_json,
)
from experiments._count_cmd import FLOP_CONVENTION
from scaling import (
    TABLES,
    FamilyMember,
    FamilyRule,
    parse_coefficients,
    parse_phis,
    read_coefficients_file,
    scaled_family,
)
from search_spaces import write_text_atomic


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "family",
        help="scale a spec into a family B0..BN",
        description="Scale a spec by a published table or by compound coefficients "
        f"alpha,beta,gamma. FLOPs are {FLOP_CONVENTION}.",
    )
    parser.add_argument("spec", help="preset name or path to a spec JSON file (the phi = 0 member)")
    rule = parser.add_mutually_exclusive_group(required=True)
    rule.add_argument("--table", choices=sorted(TABLES), help="a published scaling table")
    rule.add_argument(
        "--coefficients-file",
        metavar="PATH",
        help="coefficients.json written by `cnas coefficients`",
    )
    rule.add_argument(
        "--coefficients",
        metavar="A,B,G",
        help="compound rule: depth A^phi, width B^phi, resolution G^phi (e.g. 1.2,1.1,1.15)",
    )
    parser.add_argument(
        "--phis",
        metavar="RANGE",
        help="members to emit, e.g. 0-7 or 0,2,4 (default: 0-7 with --coefficients, "
        "the whole table with --table)",
    )
    parser.add_argument(
        "--match-flops",
        nargs="?",
        const=2.0,
        type=float,
        metavar="GROWTH",
        help="with coefficients: FLOP growth per phi (default 2). --match actual matches each "
        "member to GROWTH^phi times member 0's; --match nominal picks each member's "
        "resolution so its FLOPs come closest to that",
    )
    parser.add_argument(
        "--match",
        choices=("actual", "nominal"),
        help="with coefficients. actual (default for spec backbones, as in `cnas coefficients` "
        "and `scaling-curves`): move each member as little as it takes until its real FLOPs "
        "are within --match-tolerance of GROWTH^phi (--match-flops, default 2) times member "
        "0's; nominal (the only rule for module backbones): the paper's arithmetic, whatever "
        "channel rounding does to the FLOPs",
    )
    parser.add_argument(
        "--match-tolerance",
        type=percent,
        default=0.03,
        metavar="PCT",
        help="with --match actual: allowed FLOP error, in percent (3)",
    )
    parser.add_argument(
        "--verify", action="store_true", help="build every member and cross-check with fvcore"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON list and nothing else")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV")
    parser.add_argument(
        "--export",
        choices=("onnx", "torchscript"),
        help="with --out: also write each member as a model file (checked against PyTorch)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="write one spec JSON per member and family.csv into DIR"
    )
    parser.set_defaults(run=run)


def family_rule(args: argparse.Namespace, *, is_spec: bool) -> FamilyRule:
    """The rule the options describe; flag combinations that mean nothing are refused."""
    if args.table:
        if args.match_flops is not None or args.match is not None:
            raise CliError("--match-flops and --match work with coefficients; a table fixes sizes")
        if not is_spec:
            raise CliError(
                f"{args.spec} is not a spec, so a published table cannot scale it; "
                "use --coefficients or --coefficients-file"
            )
        phis = parse_phis(args.phis) if args.phis else None
        return FamilyRule(table=TABLES[args.table], phis=phis)
    if args.match_flops is not None and not args.match_flops > 1:
        raise CliError(f"--match-flops must be > 1 (FLOP growth per phi), got {args.match_flops}")
    if args.match == "actual" and not is_spec:
        raise CliError(
            f"--match actual works for spec backbones; {args.spec} is not one: use --match-flops "
            "(resolution per member), or cnas scaling-curves for members matched per phi"
        )
    if args.coefficients is not None:
        coefficients = parse_coefficients(args.coefficients)
    else:
        coefficients = read_coefficients_file(args.coefficients_file)
    return FamilyRule(
        coefficients=coefficients,
        phis=parse_phis(args.phis or "0-7"),
        match=args.match,
        growth=args.match_flops,
        tolerance=args.match_tolerance,
    )


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def render(rows: list[dict[str, Any]], title: str) -> str:
    columns = [
        ("name", "member"),
        ("phi", "phi"),
        ("width_mult", "width"),
        ("depth_mult", "depth"),
        ("resolution", "res"),
        ("params", "params"),
        ("flops", "FLOPs"),
        ("flop_ratio", "FLOPs/phi0"),
        ("nominal_flop_ratio", "nominal"),
    ]
    shown = [dict(row) for row in rows]
    if shown and "reference_params" in shown[0]:
        for row in shown:
            row["published_match"] = row["params"] == row["reference_params"]
        columns += [("reference_params", "published params"), ("published_match", "same")]
    if shown and "match" in shown[0]:
        columns += [("fvcore_flops", "fvcore conv+linear"), ("match", "exact")]
    notes = [
        title,
        format_table(shown, columns),
        f"FLOPs are {FLOP_CONVENTION}. FLOPs/phi0 is counted on each member as built, "
        "after all rounding (channels to multiples of 8, whole blocks, whole pixels); "
        "nominal is depth * width^2 * resolution^2 before rounding.",
    ]
    if "match" in columns[-1]:
        notes.append(
            "exact: PyTorch's parameter count and fvcore's conv+linear FLOPs of the "
            "built model equal the analytic counts."
        )
    return "\n".join(notes)


def run(args: argparse.Namespace) -> int:
    from nas import SpecBackbone, load_backbone
    from nas.models import BackboneCounts

    backbone = load_backbone(args.spec)
    spec = backbone.spec if isinstance(backbone, SpecBackbone) else None
    rule = family_rule(args, is_spec=spec is not None)
    if args.export and spec is None:
        raise CliError(f"--export works for spec backbones; {args.spec} is not one")
    if args.verify and spec is None:
        raise CliError(
            f"--verify checks a spec's analytic counts; {args.spec} is counted by fvcore already"
        )
    if args.export and not args.out:
        raise CliError("--export writes into the --out directory: give --out DIR")
    out_dir = check_writable_dir(args.out, "--out") if args.out else None
    csv_path = check_writable_file(args.csv, "--csv") if args.csv else None
    members = scaled_family(
        spec if spec is not None else BackboneCounts(backbone),
        rule,
        progress=None
        if spec
        else lambda name, px: print(f"counting {name} at {px} px ...", file=sys.stderr),
    )
    rows = [member.row() for member in members]
    if args.verify:
        _verify(members, rows)
    title = rule.title(backbone.name)
    if spec is None:
        title += "; FLOPs counted by fvcore on each built model"
    table_csv = rows_to_csv(rows)
    if csv_path is not None:
        write_text_atomic(csv_path, table_csv)
    if out_dir is not None:
        _write_out_dir(out_dir, members, table_csv, title)
        if args.export:
            from nas.models import export_network

            suffix = ".onnx" if args.export == "onnx" else ".pt"
            for member in members:
                export_network(member.spec, out_dir / f"{member.name}{suffix}", format=args.export)
    if args.json:
        print_json(rows)
    else:
        print(render(rows, title))
        if out_dir is not None:
            models = f", {len(members)} {args.export} models" if args.export else ""
            specs = f"{len(members)} spec files" if spec else "no spec files (not a spec)"
            print(f"wrote {specs}{models}, family.csv and family.png to {out_dir}")
    return 0 if all(row.get("match", True) for row in rows) else 1


def _verify(members: tuple[FamilyMember, ...], rows: list[dict[str, Any]]) -> None:
    from nas.models import verify_counts

    for member, row in zip(members, rows, strict=True):
        print(f"verifying {member.name} at {member.resolution} px ...", file=sys.stderr, flush=True)
        assert member.spec is not None
        row.update(verify_counts(member.spec, row["params"], row["flops"]))


def _write_out_dir(
    out_dir: Path, members: tuple[FamilyMember, ...], table_csv: str, title: str
) -> None:
    from nas.report import plot_family

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"--out {str(out_dir)!r}: cannot create it ({error.strerror})") from None
    for member in members:
        if member.spec is not None:
            member.spec.save(out_dir / f"{member.name}.json")
    write_text_atomic(out_dir / "family.csv", table_csv)
    plot_family([member.row() for member in members], out_dir / "family.png", title)
