"""A latency lookup table: each distinct part of a space timed once, networks as sums.

The file is JSON: the settings it was measured with (resolution, threads, runtimes),
the host, and one entry per part key (``search_spaces.PartShape.key``) with its median
time per runtime. A network's predicted latency is the sum over its parts, so a search
can cost thousands of candidates without timing any, on any machine that reads the file.

This module does not import torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces import (
    InputError,
    MBConvSpace,
    NetworkSpec,
    network_parts,
    space_parts,
    write_text_atomic,
)

__all__ = ["TABLE_FORMAT", "LatencyTable", "LatencyTableError"]

TABLE_FORMAT = 1


class LatencyTableError(InputError):
    """A latency table cannot be read or does not fit the networks asked of it."""


@dataclass(frozen=True)
class LatencyTable:
    entries: Mapping[str, Mapping[str, float]]  # part key -> runtime -> median ms
    runtimes: tuple[str, ...]  # runtimes every entry was timed on
    resolution: int  # input side of the space's networks
    threads: int  # intra-op threads of every timing
    skeleton: str  # name of the space's skeleton, for messages
    # runtime -> time of one call that does almost nothing (a ReLU on the network's input):
    # each part's timing pays it once, a whole network pays it once in all.
    overhead_ms: Mapping[str, float] = field(default_factory=dict)
    # runtime -> {"scale", "offset_ms"}: measured ~ scale * sum of parts + offset, fitted
    # on whole networks (``calibrate_table``); {} predicts the plain sum.
    calibration: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    measured: Mapping[str, Any] = field(default_factory=dict)  # host, versions, runs, date
    validation: Mapping[str, Any] | None = None  # error against whole networks, if measured

    def digest(self) -> str:
        """Fingerprint of what predictions depend on (not of the host notes or validation)."""
        canonical = json.dumps(
            {
                "entries": {k: dict(sorted(v.items())) for k, v in sorted(self.entries.items())},
                "runtimes": list(self.runtimes),
                "resolution": self.resolution,
                "threads": self.threads,
                "overhead_ms": dict(self.overhead_ms),
                "calibration": {k: dict(v) for k, v in self.calibration.items()},
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def predict(
        self, spec: NetworkSpec, runtime: str = "torch", *, calibrated: bool = True
    ) -> float:
        """Predicted batch-1 latency of ``spec`` in ms.

        The sum of its parts' entries, less the call overhead every part but one paid,
        then (``calibrated`` and the table is) the fitted line through whole networks.
        """
        total = self.parts_sum(spec, runtime)
        fit = self.calibration.get(runtime) if calibrated else None
        return total if fit is None else fit["scale"] * total + fit["offset_ms"]

    def parts_sum(self, spec: NetworkSpec, runtime: str = "torch") -> float:
        """The sum of ``spec``'s parts, each part's call overhead but one taken off."""
        self.check_runtime(runtime)
        parts = network_parts(spec)
        total = -(len(parts) - 1) * self.overhead_ms.get(runtime, 0.0)
        for part in parts:
            entry = self.entries.get(part.key)
            if entry is None:
                raise LatencyTableError(
                    f"{spec.name!r} has a part the latency table lacks ({part.key}): the table "
                    f"was made for another space or resolution ({self.skeleton}, "
                    f"{self.resolution} px); make one for this space with cnas latency-table"
                )
            total += entry[runtime]
        return total

    def check_covers(self, space: MBConvSpace, *, source: str = "the latency table") -> None:
        """Refuse a space some of whose networks the table cannot predict, in one line."""
        resolution = space.skeleton.resolution
        if resolution != self.resolution:
            raise LatencyTableError(
                f"{source} was measured at {self.resolution} px but the space is at "
                f"{resolution} px; make a table at --resolution {resolution} with "
                "cnas latency-table"
            )
        wanted = space_parts(space)
        missing = sorted(part.key for part in wanted if part.key not in self.entries)
        if missing:
            raise LatencyTableError(
                f"{source} lacks {len(missing)} of the space's {len(wanted)} parts (e.g. "
                f"{missing[0]}): it was made for another space ({self.skeleton}); make one "
                "with cnas latency-table and the same space options as the search"
            )

    def check_runtime(self, runtime: str) -> None:
        if runtime not in self.runtimes:
            raise LatencyTableError(
                f"the latency table has no {runtime} timings (it has "
                f"{', '.join(self.runtimes)}); choose one of those or remake it"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TABLE_FORMAT,
            "digest": self.digest(),
            "skeleton": self.skeleton,
            "resolution": self.resolution,
            "threads": self.threads,
            "runtimes": list(self.runtimes),
            "overhead_ms": dict(self.overhead_ms),
            "calibration": {k: dict(v) for k, v in self.calibration.items()},
            "measured": dict(self.measured),
            "validation": None if self.validation is None else dict(self.validation),
            "entries": {key: dict(self.entries[key]) for key in sorted(self.entries)},
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LatencyTableError(
                f"latency table {str(path)!r} does not exist; make it with cnas latency-table"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise LatencyTableError(f"cannot read latency table {str(path)!r}: {error}") from None
        try:
            if data.get("format") != TABLE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {TABLE_FORMAT}")
            runtimes = tuple(data["runtimes"])
            entries = {
                str(key): {runtime: float(value[runtime]) for runtime in runtimes}
                for key, value in data["entries"].items()
            }
            table = cls(
                entries=entries,
                runtimes=runtimes,
                resolution=int(data["resolution"]),
                threads=int(data["threads"]),
                skeleton=str(data["skeleton"]),
                overhead_ms={k: float(data["overhead_ms"][k]) for k in runtimes},
                calibration={
                    str(runtime): {
                        "scale": float(fit["scale"]),
                        "offset_ms": float(fit["offset_ms"]),
                    }
                    for runtime, fit in (data.get("calibration") or {}).items()
                },
                measured=dict(data.get("measured") or {}),
                validation=data.get("validation"),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise LatencyTableError(
                f"{str(path)!r} is not a latency table of cnas latency-table ({error!r}); remake it"
            ) from None
        if data.get("digest") not in (None, table.digest()):
            raise LatencyTableError(
                f"latency table {str(path)!r} was changed after it was measured (its digest "
                "does not match its entries); remake it with cnas latency-table"
            )
        return table
