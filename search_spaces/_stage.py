"""One stage of an MBConv network and its official block-string notation.

Plain data: this module must not import torch. A stage is ``repeats`` MBConv
blocks that share one choice; only the first block strides and changes width
(the TF reference decoder's convention, kept by timm and torchvision).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search_spaces._checks import is_int, is_numeric

__all__ = ["InputError", "SpecError", "StageSpec"]


class InputError(ValueError):
    """Base of every error caused by what a user gave: the CLI reports it in one line."""


class SpecError(InputError):
    """An architecture spec is invalid; the message says what and how to fix it."""


# "se" before "s" and "e": the longest key that prefixes a token wins.
_FIELD = re.compile(r"^(noskip|se|[rksieoc])(.*)$")
_KNOWN_FIELDS = (
    "r<repeats>_k<kernel>_s<stride>[<stride>]_e<expand>_i<in>_o<out>[_se<ratio>][_c1][_noskip]"
)


@dataclass(frozen=True)
class StageSpec:
    """A stage of identical MBConv blocks (one official block string)."""

    repeats: int  # blocks in the stage; the first strides, the rest keep the shape
    kernel: int  # depthwise kernel size, odd so that "same" padding is symmetric
    stride: int  # stride of the stage's first block (1 or 2)
    expand_ratio: int  # expansion of the inverted bottleneck; 1 means no expansion conv
    in_channels: int  # input width of the stage's first block
    out_channels: int  # output width of every block in the stage
    se_ratio: float | None = None  # squeeze-excitation width / block input width; None: no SE
    skip: bool = True  # identity shortcut where the shape allows (False is "_noskip")
    # Fused-MBConv (EfficientNetV2, "_c1"): one regular kxk conv in place of the expansion
    # 1x1 and the depthwise kxk; with expansion 1 it is the whole block (no projection).
    fused: bool = False

    def __post_init__(self) -> None:
        for name in ("repeats", "kernel", "stride", "expand_ratio", "in_channels", "out_channels"):
            value = getattr(self, name)
            if not is_int(value):
                raise SpecError(f"{name} must be an integer, got {value!r}")
        if self.repeats < 1:
            raise SpecError(f"repeats must be >= 1, got {self.repeats}; drop the stage instead")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise SpecError(
                f"kernel must be a positive odd number (3, 5, 7), got {self.kernel}: "
                "even kernels have no symmetric 'same' padding"
            )
        if self.stride not in (1, 2):
            raise SpecError(f"stride must be 1 or 2, got {self.stride}")
        if self.expand_ratio < 1:
            raise SpecError(f"expand ratio must be >= 1, got {self.expand_ratio}")
        if self.in_channels < 1 or self.out_channels < 1:
            raise SpecError(
                f"channels must be >= 1, got in={self.in_channels} out={self.out_channels}"
            )
        if self.se_ratio is not None:
            ratio = self.se_ratio
            if not is_numeric(ratio):
                raise SpecError(f"se ratio must be a number in (0, 1], got {ratio!r}")
            if not 0 < ratio <= 1:
                raise SpecError(f"se ratio must be in (0, 1], got {ratio}; leave it out for no SE")
            object.__setattr__(self, "se_ratio", float(ratio))
        if not isinstance(self.skip, bool):
            raise SpecError(f"skip must be true or false, got {self.skip!r}")
        if not isinstance(self.fused, bool):
            raise SpecError(f"fused must be true or false, got {self.fused!r}")
        if self.fused and self.expand_ratio == 1 and self.se_ratio is not None:
            # The reference would squeeze the block's input before its only conv; no
            # published network does, and the builder does not guess.
            raise SpecError(
                "a fused block with expansion 1 cannot have squeeze-excitation (the "
                "reference has no SE there); drop the se ratio or use e > 1"
            )

    @property
    def has_se(self) -> bool:
        return self.se_ratio is not None

    @property
    def skip_matters(self) -> bool:
        """Whether any block of the stage can have an identity shortcut.

        The builder adds one only where a block keeps its shape (stride 1, input width =
        output width): the repeats after the first always do, the first block only
        without a stride or a width change. Elsewhere the skip flag builds nothing.
        """
        return self.repeats > 1 or (self.stride == 1 and self.in_channels == self.out_channels)

    def to_string(self) -> str:
        """The official block string, e.g. ``r2_k3_s22_e6_i16_o24_se0.25``."""
        parts = [
            f"r{self.repeats}",
            f"k{self.kernel}",
            f"s{self.stride}{self.stride}",
            f"e{self.expand_ratio}",
            f"i{self.in_channels}",
            f"o{self.out_channels}",
        ]
        if self.se_ratio is not None:
            parts.append(f"se{self.se_ratio:g}")
        if self.fused:
            parts.append("c1")
        if not self.skip:
            parts.append("noskip")
        return "_".join(parts)

    @classmethod
    def from_string(cls, text: str) -> StageSpec:
        """Parse an official block string; errors name the offending field."""
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"block string must be a non-empty string like {_KNOWN_FIELDS}")
        fields: dict[str, str] = {}
        skip = True
        for token in text.strip().split("_"):
            match = _FIELD.match(token)
            if match is None:
                raise SpecError(
                    f"block {text!r}: cannot read field {token!r}; expected {_KNOWN_FIELDS}"
                )
            key, value = match.groups()
            if key == "noskip":
                if value:
                    raise SpecError(f"block {text!r}: field {token!r} should be just 'noskip'")
                skip = False
                continue
            if key not in ("r", "k", "s", "e", "i", "o", "se", "c"):
                raise SpecError(
                    f"block {text!r}: unknown field {token!r}; expected {_KNOWN_FIELDS}"
                )
            if key in fields:
                raise SpecError(f"block {text!r}: field {key!r} appears twice")
            fields[key] = value
        missing = [key for key in ("r", "k", "s", "e", "i", "o") if key not in fields]
        if missing:
            raise SpecError(
                f"block {text!r}: missing field(s) {', '.join(missing)}; expected {_KNOWN_FIELDS}"
            )
        stride_text = fields["s"]
        # V1's strings give the stride per axis (s22), V2's once (s2); both are read.
        if len(stride_text) not in (1, 2) or not stride_text.isdigit():
            raise SpecError(
                f"block {text!r}: stride field 's{stride_text}' must be one or two digits, "
                "e.g. s2 or s22"
            )
        if len(stride_text) == 2 and stride_text[0] != stride_text[1]:
            raise SpecError(
                f"block {text!r}: stride 's{stride_text}' differs per axis; only square strides "
                "(s11, s22) are supported"
            )

        def integer(key: str, label: str) -> int:
            value = fields[key]
            if not value.isdigit():
                raise SpecError(
                    f"block {text!r}: {label} field '{key}{value}' must be a whole number"
                )
            return int(value)

        se_ratio: float | None = None
        if "se" in fields:
            try:
                se_ratio = float(fields["se"])
            except ValueError:
                raise SpecError(
                    f"block {text!r}: se field 'se{fields['se']}' must be a number such as se0.25"
                ) from None
        conv = fields.get("c", "0")
        if conv not in ("0", "1"):
            raise SpecError(
                f"block {text!r}: conv field 'c{conv}' must be c1 (Fused-MBConv) or c0 (MBConv)"
            )
        values = {
            "repeats": integer("r", "repeats"),
            "kernel": integer("k", "kernel"),
            "expand_ratio": integer("e", "expand"),
            "in_channels": integer("i", "input width"),
            "out_channels": integer("o", "output width"),
        }
        try:
            return cls(
                stride=int(stride_text[0]),
                se_ratio=se_ratio,
                skip=skip,
                fused=conv == "1",
                **values,
            )
        except SpecError as error:
            raise SpecError(f"block {text!r}: {error}") from None
