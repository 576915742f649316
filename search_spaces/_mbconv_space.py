"""MnasNet's factorized hierarchical search space over the stages of a skeleton.

Each stage of a reference network picks its own kernel, expansion ratio, SE
ratio, layer count relative to the reference, width multiplier and skip op;
all layers inside a stage repeat that choice (MnasNet, arXiv 1807.11626, sec. 4).
A point of the space is a flat dict of categorical choices (``s3_kernel``...),
so any sampler that handles categorical parameters can search it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_spaces._checks import is_int
from search_spaces._network import NetworkSpec
from search_spaces._rounding import round_filters
from search_spaces._stage import InputError, SpecError, StageSpec

__all__ = ["CHOICE_FIELDS", "CONV_OPS", "SKELETONS", "MBConvSpace", "StageChoices", "skeleton"]

# Point keys are f"s{stage}_{key}"; the values are the choice values themselves.
CHOICE_FIELDS: dict[str, str] = {
    "kernel": "kernels",
    "expand": "expand_ratios",
    "se": "se_ratios",
    "layers": "layer_deltas",
    "width": "width_mults",
    "skip": "skips",
    "conv": "convs",
}
CONV_OPS: tuple[str, ...] = ("mbconv", "fused")  # fused: EfficientNetV2's Fused-MBConv


@dataclass(frozen=True)
class StageChoices:
    """The options one stage chooses from (the defaults are MnasNet's, with kernel 7 added)."""

    kernels: tuple[int, ...] = (3, 5, 7)
    expand_ratios: tuple[int, ...] = (1, 3, 4, 6)
    se_ratios: tuple[float, ...] = (0.0, 0.25)  # 0.0 means no squeeze-excitation
    layer_deltas: tuple[int, ...] = (-1, 0, 1)  # added to the reference stage's repeats
    width_mults: tuple[float, ...] = (0.75, 1.0, 1.25)  # of the reference stage's width
    skips: tuple[bool, ...] = (True, False)  # identity shortcut where possible, or none
    # The conv op, as MnasNet chooses it per stage: MBConv, or EfficientNetV2's Fused-MBConv
    # (one regular kxk conv for expansion and depthwise). MBConv alone by default, so that
    # spaces, runs and supernets from before the choice existed are what they were.
    convs: tuple[str, ...] = ("mbconv",)

    def __post_init__(self) -> None:
        for name in CHOICE_FIELDS.values():
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise SpecError(f"choice set {name!r} must be a non-empty list")
            if len(set(values)) != len(values):
                raise SpecError(f"choice set {name!r} repeats a value: {list(values)}")
            object.__setattr__(self, name, tuple(values))
        if any(not is_int(k) or k < 1 or k % 2 == 0 for k in self.kernels):
            raise SpecError(f"kernels must be odd positive integers, got {list(self.kernels)}")
        if any(not is_int(e) or e < 1 for e in self.expand_ratios):
            raise SpecError(f"expand_ratios must be integers >= 1, got {list(self.expand_ratios)}")
        if any(not isinstance(s, (int, float)) or not 0 <= s <= 1 for s in self.se_ratios):
            raise SpecError(f"se_ratios must be in [0, 1] (0 = no SE), got {list(self.se_ratios)}")
        if any(not is_int(d) for d in self.layer_deltas):
            raise SpecError(f"layer_deltas must be integers, got {list(self.layer_deltas)}")
        if any(not isinstance(w, (int, float)) or w <= 0 for w in self.width_mults):
            raise SpecError(f"width_mults must be positive numbers, got {list(self.width_mults)}")
        if any(not isinstance(s, bool) for s in self.skips):
            raise SpecError(f"skips must be true/false values, got {list(self.skips)}")
        if any(c not in CONV_OPS for c in self.convs):
            raise SpecError(f"convs must be some of {', '.join(CONV_OPS)}, got {list(self.convs)}")

    def options(self, key: str) -> tuple[Any, ...]:
        return getattr(self, CHOICE_FIELDS[key])

    @property
    def size(self) -> int:
        return math.prod(len(self.options(key)) for key in CHOICE_FIELDS)


@dataclass(frozen=True)
class MBConvSpace:
    """Per-stage choices around the stages of ``skeleton``."""

    skeleton: NetworkSpec
    choices: tuple[StageChoices, ...]
    channel_divisor: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) != len(self.skeleton.stages):
            raise SpecError(
                f"the space has choices for {len(self.choices)} stages but the skeleton "
                f"{self.skeleton.name!r} has {len(self.skeleton.stages)}"
            )

    @classmethod
    def uniform(cls, skeleton: NetworkSpec, choices: StageChoices | None = None) -> MBConvSpace:
        """The same choices for every stage."""
        return cls(skeleton, (choices or StageChoices(),) * len(skeleton.stages))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], skeleton: NetworkSpec) -> MBConvSpace:
        """Choices from JSON: defaults for all stages plus optional per-stage overrides.

        ``{"kernels": [3, 5], "width_mults": [1.0], "stages": {"6": {"expand_ratios": [6]}}}``
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"search-space file {str(path)!r} does not exist") from None
        except (OSError, json.JSONDecodeError) as error:
            raise SpecError(f"cannot read search-space file {str(path)!r}: {error}") from None
        if not isinstance(data, dict):
            raise SpecError(f"{path}: a search-space file is a JSON object of choice lists")
        overrides = data.pop("stages", {})
        known = set(CHOICE_FIELDS.values())
        for keys in (data, *overrides.values()) if isinstance(overrides, dict) else (data,):
            unknown = sorted(set(keys) - known) if isinstance(keys, dict) else ["(not an object)"]
            if unknown:
                raise SpecError(
                    f"{path}: unknown choice set(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(known))}, stages"
                )
        if not isinstance(overrides, dict):
            raise SpecError(f"{path}: 'stages' must map stage numbers to choice sets")
        base = StageChoices(**data)
        per_stage = []
        for index in range(len(skeleton.stages)):
            override = overrides.get(str(index), {})
            per_stage.append(dataclasses.replace(base, **override) if override else base)
        bad = sorted(set(overrides) - {str(i) for i in range(len(skeleton.stages))})
        if bad:
            raise SpecError(
                f"{path}: stage(s) {', '.join(bad)} do not exist; stages are 0.."
                f"{len(skeleton.stages) - 1}"
            )
        return cls(skeleton, tuple(per_stage))

    @property
    def size(self) -> int:
        """Number of distinct points (some may decode to the same network)."""
        return math.prod(choices.size for choices in self.choices)

    def parameters(self) -> dict[str, tuple[Any, ...]]:
        """Point key -> its options, in a stable order.

        A stage whose only conv op is MBConv has no ``conv`` key: the points (and the
        run identities that record them) of spaces without the choice stay as they were.
        """
        return {
            f"s{index}_{key}": choices.options(key)
            for index, choices in enumerate(self.choices)
            for key in CHOICE_FIELDS
            if key != "conv" or choices.convs != ("mbconv",)
        }

    def fixed(self, parameter: str, value: Any) -> MBConvSpace:
        """This space with one choice (a ``parameters()`` key such as ``s3_kernel``) fixed
        to ``value``: the networks of this space that make that choice."""
        options = self.parameters().get(parameter)
        if options is None:
            raise SpecError(
                f"the space has no choice {parameter!r}; it has {', '.join(self.parameters())}"
            )
        if value not in options:
            raise SpecError(f"{parameter}={value!r} is not one of {list(options)}")
        stage, key = parameter[1:].split("_", 1)
        choices = list(self.choices)
        choices[int(stage)] = dataclasses.replace(
            choices[int(stage)], **{CHOICE_FIELDS[key]: (value,)}
        )
        return dataclasses.replace(self, choices=tuple(choices))

    def identity(self) -> dict[str, Any]:
        """The space as a run records it: its skeleton's fingerprint and every choice set."""
        return {
            "skeleton": self.skeleton.fingerprint(),
            "space": {key: list(options) for key, options in self.parameters().items()},
        }

    def sample(self, rng: random.Random) -> dict[str, Any]:
        return {key: rng.choice(options) for key, options in self.parameters().items()}

    def sample_distinct(self, count: int, seed: int) -> tuple[NetworkSpec, ...]:
        """``count`` networks drawn uniformly, no two building the same model, named
        ``net-0``, ``net-1``, ...; the first ``k`` of a seed are the same for any
        ``count`` >= ``k``.

        Raises:
            InputError: when the space holds fewer than ``count`` distinct networks.
        """
        rng = random.Random(seed)
        networks: dict[str, NetworkSpec] = {}
        for _ in range(100 * count):
            spec = self.decode(self.sample(rng), name=f"net-{len(networks)}")
            networks.setdefault(spec.fingerprint(), spec)
            if len(networks) == count:
                return tuple(networks.values())
        raise InputError(f"the space holds fewer than {count} distinct networks; ask for fewer")

    def extreme(self, *, largest: bool) -> dict[str, Any]:
        """The point with every choice at its cheapest (or costliest) option.

        Each choice raises FLOPs and params monotonically, so this is the
        smallest (largest) network of the space.
        """
        pick = max if largest else min
        point = {key: pick(options) for key, options in self.parameters().items()}
        for index, choices in enumerate(self.choices):
            point[f"s{index}_skip"] = choices.skips[0]  # free either way
            if f"s{index}_conv" in point:
                # A fused kxk conv does k^2 times the expansion's work: the costlier op.
                costly = "fused" if largest else "mbconv"
                point[f"s{index}_conv"] = costly if costly in choices.convs else choices.convs[0]
        return point

    def decode(self, point: Mapping[str, Any], *, name: str | None = None) -> NetworkSpec:
        """The network a point stands for."""
        parameters = self.parameters()
        missing = sorted(set(parameters) - set(point))
        if missing:
            raise SpecError(f"point is missing {', '.join(missing[:4])}")
        for key, options in parameters.items():
            if point[key] not in options:
                raise SpecError(f"{key}={point[key]!r} is not one of {list(options)}")
        stages = []
        previous = self.skeleton.stem_channels
        for index, reference in enumerate(self.skeleton.stages):
            prefix = f"s{index}_"
            se = float(point[prefix + "se"])
            fused = point.get(prefix + "conv", self.choices[index].convs[0]) == "fused"
            expand = int(point[prefix + "expand"])
            if fused and expand == 1:
                se = 0.0  # a fused e1 block is one conv; the reference has no SE there
            out = round_filters(
                reference.out_channels, float(point[prefix + "width"]), self.channel_divisor
            )
            stages.append(
                StageSpec(
                    repeats=max(1, reference.repeats + int(point[prefix + "layers"])),
                    kernel=int(point[prefix + "kernel"]),
                    stride=reference.stride,
                    expand_ratio=expand,
                    in_channels=previous,
                    out_channels=out,
                    se_ratio=se if se > 0 else None,
                    skip=bool(point[prefix + "skip"]),
                    fused=fused,
                )
            )
            previous = out
        return dataclasses.replace(
            self.skeleton,
            name=name or f"{self.skeleton.name}-searched",
            stages=tuple(stages),
            metadata={},
        )

    def encode(self, spec: NetworkSpec) -> dict[str, Any]:
        """A point that decodes to ``spec``; the canonical one where several do."""
        if len(spec.stages) != len(self.skeleton.stages):
            raise SpecError(
                f"{spec.name!r} has {len(spec.stages)} stages; this space has "
                f"{len(self.skeleton.stages)}"
            )
        point: dict[str, Any] = {}
        for index, (stage, reference) in enumerate(
            zip(spec.stages, self.skeleton.stages, strict=True)
        ):
            choices = self.choices[index]
            prefix = f"s{index}_"
            wanted = {
                "kernel": lambda v, s=stage: v == s.kernel,
                "expand": lambda v, s=stage: v == s.expand_ratio,
                "se": lambda v, s=stage: (v or None) == s.se_ratio,
                "layers": lambda v, s=stage, r=reference: max(1, r.repeats + v) == s.repeats,
                "width": lambda v, s=stage, r=reference: (
                    round_filters(r.out_channels, v, self.channel_divisor) == s.out_channels
                ),
                "skip": lambda v, s=stage: v == s.skip,
                "conv": lambda v, s=stage: (v == "fused") == s.fused,
            }
            if choices.convs == ("mbconv",):
                del wanted["conv"]  # no conv key in such a stage's points
                if stage.fused:
                    raise SpecError(
                        f"stage {index} ({stage.to_string()}) is fused; this space has no "
                        "fused choice there"
                    )
            if stage.fused and stage.expand_ratio == 1:
                wanted["se"] = lambda v: True  # dropped by decode for fused e1: any matches
            for key, matches in wanted.items():
                # Prefer the reference-like option (delta 0, width 1.0) when several match.
                options = sorted(
                    choices.options(key), key=lambda v: (v not in (0, 1.0, True, "mbconv"), v)
                )
                found = [value for value in options if matches(value)]
                if not found:
                    raise SpecError(
                        f"stage {index} ({stage.to_string()}) is outside the space: no {key} "
                        f"option in {list(choices.options(key))} matches"
                    )
                point[prefix + key] = found[0]
        if self.decode(point, name=spec.name) != spec:
            raise SpecError(f"{spec.name!r} differs from the space's skeleton outside the stages")
        return point


# Reference skeletons the space is built around. "small-input" keeps EfficientNet-B0's
# stages but strides only three times (stem and stages 1, 2 and 4 at stride 1), so
# 32 px inputs end at a 4x4 map instead of 1x1.
SKELETONS: tuple[str, ...] = ("efficientnet-b0", "small-input")


def skeleton(
    name: str, *, in_channels: int = 3, num_classes: int = 1000, resolution: int | None = None
) -> NetworkSpec:
    """A reference skeleton adapted to the data's channels, classes and resolution."""
    from search_spaces._architectures import BASE_ARCHITECTURES

    b0 = BASE_ARCHITECTURES["efficientnet-b0"]
    if name == "efficientnet-b0":
        base, default_resolution = b0, 224
    elif name == "small-input":
        strides = (1, 1, 2, 2, 1, 2, 1)
        stages = tuple(
            dataclasses.replace(stage, stride=stride)
            for stage, stride in zip(b0.stages, strides, strict=True)
        )
        base = dataclasses.replace(b0, name="small-input", stages=stages, stem_stride=1)
        default_resolution = 32
    else:
        raise SpecError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}")
    return dataclasses.replace(
        base,
        in_channels=in_channels,
        num_classes=num_classes,
        resolution=resolution or default_resolution,
    )
