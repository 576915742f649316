"""The spec of a whole MBConv network: stem, stages, head, classifier.

Plain, frozen, validated data that knows nothing of torch (the builder in
``nas`` turns it into an ``nn.Module``). A spec is concrete: channels and
repeats are the built numbers, already rounded; scaling makes new specs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from search_spaces._checks import is_int, is_numeric
from search_spaces._files import write_text_atomic
from search_spaces._stage import SpecError, StageSpec

__all__ = ["ACTIVATIONS", "NetworkSpec"]

ACTIVATIONS: tuple[str, ...] = ("swish", "relu", "relu6")


@dataclass(frozen=True)
class NetworkSpec:
    """Stem conv3x3 -> MBConv stages -> head conv1x1 -> pool -> dropout -> linear."""

    name: str
    stages: tuple[StageSpec, ...]
    stem_channels: int = 32  # output width of the stem conv3x3
    head_channels: int = 1280  # width of the conv1x1 before pooling
    activation: str = "swish"  # swish (SiLU) for EfficientNet, relu for MnasNet, relu6 for Lite
    resolution: int = 224  # square input size the spec is counted and trained at
    num_classes: int = 1000
    dropout: float = 0.2  # before the classifier
    # Lite keeps stem, head and the first and last stage's repeats when scaled.
    fix_stem_head: bool = False
    drop_connect_rate: float = 0.2  # stochastic depth, grown linearly over the blocks
    in_channels: int = 3  # image channels (1 for grayscale data)
    stem_stride: int = 2  # 1 keeps small inputs (32 px) from shrinking too early
    bn_momentum: float = 0.01  # PyTorch convention (1 - TF's 0.99)
    bn_eps: float = 1e-3  # TF reference value
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpecError("name must be a non-empty string")
        # Names become file names (family members, run outputs).
        if any(sep in self.name for sep in "/\\") or self.name.startswith("."):
            raise SpecError(
                f"name {self.name!r} must not contain '/' or '\\' or start with '.'; "
                "it is used as a file name"
            )
        stages = tuple(self.stages)
        if not stages:
            raise SpecError("a network needs at least one block string in 'blocks'")
        if not all(isinstance(stage, StageSpec) for stage in stages):
            raise SpecError("stages must be StageSpec objects (use from_dict for block strings)")
        object.__setattr__(self, "stages", stages)
        for name in ("stem_channels", "head_channels", "resolution", "num_classes", "in_channels"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise SpecError(f"{name} must be an integer >= 1, got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise SpecError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        for name in ("dropout", "drop_connect_rate"):
            value = getattr(self, name)
            if not is_numeric(value) or not 0 <= value < 1:
                raise SpecError(f"{name} must be a number in [0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        if not is_int(self.stem_stride) or self.stem_stride not in (1, 2):
            raise SpecError(f"stem_stride must be 1 or 2, got {self.stem_stride!r}")
        for name in ("bn_momentum", "bn_eps"):
            value = getattr(self, name)
            if not is_numeric(value) or not 0 < value < 1:
                raise SpecError(f"{name} must be a number in (0, 1), got {value!r}")
        if not isinstance(self.fix_stem_head, bool):
            raise SpecError(f"fix_stem_head must be true or false, got {self.fix_stem_head!r}")
        previous = self.stem_channels
        for index, stage in enumerate(stages):
            if stage.in_channels != previous:
                source = "the stem" if index == 0 else f"block {index}"
                raise SpecError(
                    f"block {index + 1} ({stage.to_string()}) takes {stage.in_channels} channels "
                    f"but {source} gives {previous}; set its i{previous}"
                )
            previous = stage.out_channels
        if self.resolution < self.total_stride:
            raise SpecError(
                f"resolution {self.resolution} is smaller than the network's total stride "
                f"{self.total_stride}; use a resolution >= {self.total_stride}"
            )
        if not isinstance(self.metadata, Mapping):
            raise SpecError(f"metadata must be a JSON object, got {self.metadata!r}")
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def total_stride(self) -> int:
        """Downsampling factor from input to the last feature map."""
        return self.stem_stride * math.prod(stage.stride for stage in self.stages)

    @property
    def num_blocks(self) -> int:
        return sum(stage.repeats for stage in self.stages)

    @property
    def block_strings(self) -> tuple[str, ...]:
        return tuple(stage.to_string() for stage in self.stages)

    # --- serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the documented spec-file format."""
        data: dict[str, Any] = {"name": self.name, "blocks": list(self.block_strings)}
        for spec_field in fields(self):
            if spec_field.name in ("name", "stages", "metadata"):
                continue
            data[spec_field.name] = getattr(self, spec_field.name)
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkSpec:
        if not isinstance(data, Mapping):
            raise SpecError("a spec must be a JSON object with 'name' and 'blocks'")
        known = {spec_field.name for spec_field in fields(cls)} - {"stages"} | {"blocks"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"unknown spec key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
            )
        for key in ("name", "blocks"):
            if key not in data:
                raise SpecError(f"spec is missing the required key {key!r}")
        blocks = data["blocks"]
        if isinstance(blocks, str) or not isinstance(blocks, Sequence):
            raise SpecError("'blocks' must be a list of block strings like 'r1_k3_s11_e1_i32_o16'")
        kwargs = {key: value for key, value in data.items() if key != "blocks"}
        return cls(stages=tuple(StageSpec.from_string(block) for block in blocks), **kwargs)

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(
                f"spec is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
            ) from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NetworkSpec:
        path = Path(path)
        if path.is_dir():
            raise SpecError(f"{str(path)!r} is a directory; give a spec JSON file or a preset name")
        if not path.is_file():
            raise SpecError(f"spec file {str(path)!r} does not exist; give a preset name or a path")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SpecError(f"cannot read spec file {str(path)!r}: {error}") from None
        try:
            return cls.from_json(text)
        except SpecError as error:
            raise SpecError(f"{path}: {error}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically, so a killed run never leaves half a spec."""
        write_text_atomic(path, self.to_json() + "\n")

    def canonical(self) -> NetworkSpec:
        """The same network with every flag that cannot change it normalised.

        A stage whose blocks can have no identity shortcut (``StageSpec.skip_matters``
        is false) builds the same model with ``skip`` true or false; the canonical form
        says true. Two specs that build the same network have the same canonical form
        (nasbench prunes its matrices the same way before hashing).
        """
        stages = tuple(
            stage if stage.skip or stage.skip_matters else dataclasses.replace(stage, skip=True)
            for stage in self.stages
        )
        return self if stages == self.stages else dataclasses.replace(self, stages=stages)

    def fingerprint(self) -> str:
        """Hash of the canonical form without name and metadata: equal for two specs exactly
        when they build the same model, for de-duplication."""
        data = self.canonical().to_dict()
        for key in ("name", "metadata"):
            data.pop(key, None)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
