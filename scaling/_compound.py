"""Compound scaling: depth alpha^phi, width beta^phi, resolution gamma^phi.

EfficientNet (arXiv 1905.11946, eq. 3) constrains alpha * beta^2 * gamma^2 ~= 2
with alpha, beta, gamma >= 1, so FLOPs grow about 2^phi.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from search_spaces import (
    InputError,
    NetworkSpec,
    is_numeric,
    round_filters,
    round_repeats,
    round_resolution,
)

__all__ = [
    "MAX_PHI",
    "CompoundCoefficients",
    "ScalingError",
    "parse_coefficients",
    "parse_phis",
    "read_coefficients_file",
    "scale_network",
]


class ScalingError(InputError):
    """Invalid scaling input; the message says what and how to fix it."""


# EfficientNet stops at phi = 7 (B7); beyond ~16 members no longer fit any machine.
MAX_PHI = 16


@dataclass(frozen=True)
class CompoundCoefficients:
    alpha: float  # depth base
    beta: float  # width base
    gamma: float  # resolution base

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            if not is_numeric(value):
                raise ScalingError(f"{name} must be a number >= 1, got {value!r}")
            if not math.isfinite(value) or value < 1:
                raise ScalingError(
                    f"{name} must be a finite number >= 1, got {value}; compound scaling only grows"
                )
            object.__setattr__(self, name, float(value))

    @property
    def flops_base(self) -> float:
        """alpha * beta^2 * gamma^2: the nominal FLOP growth per unit of phi."""
        return self.alpha * self.beta**2 * self.gamma**2

    def factors(self, phi: float) -> tuple[float, float, float]:
        """(depth_mult, width_mult, resolution_mult) for compound coefficient ``phi``."""
        if not 0 <= phi <= MAX_PHI:
            raise ScalingError(f"phi must be between 0 and {MAX_PHI}, got {phi}")
        return self.alpha**phi, self.beta**phi, self.gamma**phi


def parse_coefficients(text: str) -> CompoundCoefficients:
    """Read 'A,B,G' (alpha, beta, gamma) as typed on a command line."""
    parts = [part.strip() for part in str(text).split(",")]
    if len(parts) != 3:
        raise ScalingError(
            "coefficients must be three numbers alpha,beta,gamma such as 1.2,1.1,1.15; "
            f"got {text!r}"
        )
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ScalingError(
            f"coefficients must be numbers like 1.2,1.1,1.15; got {text!r}"
        ) from None
    return CompoundCoefficients(*values)


def read_coefficients_file(path: str | os.PathLike[str]) -> CompoundCoefficients:
    """alpha, beta, gamma from a JSON file such as `cnas coefficients` writes."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScalingError(f"coefficients file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ScalingError(f"cannot read coefficients file {str(path)!r}: {error}") from None
    if not isinstance(data, dict) or not all(key in data for key in ("alpha", "beta", "gamma")):
        raise ScalingError(
            f"{path} must be a JSON object with alpha, beta and gamma (as `cnas coefficients` "
            "writes)"
        )
    return CompoundCoefficients(data["alpha"], data["beta"], data["gamma"])


def parse_phis(text: str) -> tuple[int, ...]:
    """Read a phi range 'A-B' (inclusive), a single 'N', or a list 'A,B,C'."""
    text = str(text).strip()
    try:
        if "-" in text and "," not in text:
            low, high = (int(part) for part in text.split("-", 1))
            phis = tuple(range(low, high + 1))
            if low > high:
                raise ScalingError(f"phi range {text!r} is reversed; write it low-high, e.g. 0-7")
        else:
            phis = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        if isinstance(error, ScalingError):
            raise
        raise ScalingError(
            "phis must be a range like 0-7 or a list like 0,2,4 of whole numbers >= 0; "
            f"got {text!r}"
        ) from None
    if not phis:
        raise ScalingError(f"phi range {text!r} is empty; give e.g. 0-7")
    if min(phis) < 0 or max(phis) > MAX_PHI:
        raise ScalingError(f"phis must be between 0 and {MAX_PHI}, got {text!r}")
    if len(set(phis)) != len(phis):
        raise ScalingError(f"phis {text!r} repeat a value")
    return phis


def scale_network(
    spec: NetworkSpec,
    *,
    width_mult: float,
    depth_mult: float,
    resolution: int,
    name: str | None = None,
    dropout: float | None = None,
    resolution_divisor: int = 4,
    channel_divisor: int = 8,
) -> NetworkSpec:
    """A new spec with every width, stage depth and the input size scaled and rounded.

    Widths use ``round_filters`` and depths ``round_repeats``; with
    ``fix_stem_head`` (EfficientNet-Lite) the stem, the head and the first and
    last stage's repeats stay as they are, as in the TF reference, and the first
    stage then takes the unscaled stem width. A spec with Fused-MBConv stages is an
    EfficientNetV2 and rounds widths by V2's rule, which keeps no 90% floor
    (``round_filters``); the only V2 family published, B0-B3, is built that way.
    """
    if width_mult <= 0 or depth_mult <= 0:
        raise ScalingError(f"multipliers must be > 0, got width {width_mult}, depth {depth_mult}")
    limit = 0.0 if any(stage.fused for stage in spec.stages) else 0.9

    def width(channels: int) -> int:
        return round_filters(channels, width_mult, channel_divisor, round_limit=limit)

    fixed = spec.fix_stem_head
    stem = spec.stem_channels if fixed else width(spec.stem_channels)
    stages = []
    previous = stem
    last = len(spec.stages) - 1
    for index, stage in enumerate(spec.stages):
        keep_depth = fixed and index in (0, last)
        repeats = stage.repeats if keep_depth else round_repeats(stage.repeats, depth_mult)
        out = width(stage.out_channels)
        stages.append(
            dataclasses.replace(stage, repeats=repeats, in_channels=previous, out_channels=out)
        )
        previous = out
    head = spec.head_channels if fixed else width(spec.head_channels)
    return dataclasses.replace(
        spec,
        name=name or spec.name,
        stages=tuple(stages),
        stem_channels=stem,
        head_channels=head,
        resolution=round_resolution(resolution, resolution_divisor),
        dropout=spec.dropout if dropout is None else dropout,
        metadata={},
    )
