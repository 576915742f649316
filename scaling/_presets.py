"""Named presets (the base architectures plus every row of the published tables), and
loading a spec by preset name or file path."""

from __future__ import annotations

import os
from pathlib import Path

from scaling._compound import scale_network
from scaling._tables import TABLES
from search_spaces import BASE_ARCHITECTURES, NetworkSpec, SpecError

__all__ = ["load_spec", "preset", "preset_names"]


def _table_members() -> dict[str, tuple[str, int]]:
    """preset name -> (table name, row index)."""
    members = {}
    for table in TABLES.values():
        for index, row in enumerate(table.rows):
            members[f"{table.prefix}{row.suffix}"] = (table.name, index)
    return members


_TABLE_MEMBERS = _table_members()


def preset_names() -> tuple[str, ...]:
    """Every preset name, table members in table order, then the other bases."""
    names = list(_TABLE_MEMBERS)
    names += [name for name in BASE_ARCHITECTURES if name not in _TABLE_MEMBERS]
    return tuple(names)


def preset(name: str) -> NetworkSpec:
    """The spec of a preset, scaled by its published table row where it has one."""
    if name in _TABLE_MEMBERS:
        table_name, index = _TABLE_MEMBERS[name]
        table = TABLES[table_name]
        row = table.rows[index]
        return scale_network(
            BASE_ARCHITECTURES[table.base],
            width_mult=row.width_mult,
            depth_mult=row.depth_mult,
            resolution=row.resolution,
            name=name,
            dropout=row.dropout,
        )
    if name in BASE_ARCHITECTURES:
        return BASE_ARCHITECTURES[name]
    raise SpecError(
        f"unknown preset {name!r}; known presets: {', '.join(preset_names())} "
        "(or give a path to a spec JSON file)"
    )


def load_spec(text: str) -> NetworkSpec:
    """A preset name or a path to a spec JSON file."""
    if text in preset_names():
        return preset(text)
    if text.endswith(".json") or os.sep in text or Path(text).exists():
        return NetworkSpec.load(text)
    return preset(text)  # raises with the list of known presets
