"""cnas presets: the architectures that ship with the toolkit."""

from __future__ import annotations

import argparse
from typing import Any

from experiments._common import format_table, print_json
from scaling import preset, preset_names
from search_spaces import count_flops, count_params


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("presets", help="list the built-in architectures")
    parser.add_argument("--json", action="store_true", help="print one JSON list and nothing else")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in preset_names():
        spec = preset(name)
        rows.append(
            {
                "name": name,
                "resolution": spec.resolution,
                "activation": spec.activation,
                "blocks": spec.num_blocks,
                "params": count_params(spec),
                "flops": count_flops(spec),
            }
        )
    if args.json:
        print_json(rows)
        return 0
    columns = [
        ("name", "preset"),
        ("resolution", "res"),
        ("activation", "act"),
        ("blocks", "blocks"),
        ("params", "params"),
        ("flops", "FLOPs (conv+linear MACs)"),
    ]
    print(format_table(rows, columns))
    return 0
