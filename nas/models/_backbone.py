"""The interface of a network the coefficient search and families can scale.

A backbone turns (width_mult, depth_mult) into an ``nn.Module`` and reports
its conv + linear multiply-adds at a resolution, so the phi = 1 grid search
(EfficientNet section 3.3) can run on more than MBConv specs. The ResNet, spec
and user-function backbones live beside this file; ``load_backbone`` picks one.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from nas.models._fvcore import NO_MULTIPLY_ADDS, fvcore_multiply_adds, torch_param_count
from search_spaces import InputError, is_int, is_number

__all__ = [
    "Backbone",
    "BackboneCounts",
    "BackboneError",
    "check_arguments",
    "check_count",
    "one_line",
]

_log = logging.getLogger(__name__)


class BackboneError(InputError):
    """A backbone cannot be loaded or built; the message says what and how to fix it."""


def one_line(error: BaseException) -> str:
    """``TypeName: message`` on one line of at most 300 characters, for user code's errors."""
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_mult(name: str, value: object) -> None:
    if not is_number(value) or value <= 0:
        raise BackboneError(f"{name} must be a finite number > 0, got {value!r}")


def check_count(name: str, value: object) -> None:
    if not is_int(value) or value < 1:
        raise BackboneError(f"{name} must be a whole number >= 1, got {value!r}")


def check_arguments(**arguments: object) -> None:
    for name, value in arguments.items():
        if name.endswith("_mult"):
            _check_mult(name, value)
        else:
            check_count(name, value)


class Backbone(ABC):
    """A network family indexed by width and depth multipliers."""

    name: str
    base_resolution: int

    @abstractmethod
    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        """A freshly initialised model at these multipliers."""

    def _model_for_counting(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        # Counting reads shapes, not values: build on the meta device and give it uninitialised
        # CPU memory (as measure_spec does), which skips the costly weight init.
        with torch.device("meta"):
            model = self.build(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
            )
        return model.to_empty(device="cpu")

    def flops(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        resolution: int,
        num_classes: int,
        in_channels: int,
    ) -> int:
        """Multiply-adds of conv and linear layers for one image, counted by fvcore."""
        check_count("resolution", resolution)
        model = self._checked_model_for_counting(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        macs, unsupported = fvcore_multiply_adds(model, resolution, in_channels)
        # Only ops that might hide multiply-adds are worth a warning; each is named once per
        # backbone, since a grid search counts dozens of candidates. Kept in the instance dict,
        # created here, so subclasses need not call Backbone.__init__.
        warned: set[str] = self.__dict__.setdefault("_warned_ops", set())
        unknown = sorted(set(unsupported) - NO_MULTIPLY_ADDS - warned)
        if unknown:
            warned.update(unknown)
            _log.warning(
                "fvcore skipped %s in %s; their FLOPs are not in the count",
                ", ".join(f"{op} (x{unsupported[op]})" for op in unknown),
                self.name,
            )
        return macs

    def params(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> int:
        """Trainable parameters of the model ``build`` makes."""
        return torch_param_count(
            self._checked_model_for_counting(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
            )
        )

    def _checked_model_for_counting(self, **arguments: Any) -> nn.Module:
        check_arguments(**arguments)
        return self._model_for_counting(**arguments)

    def structure(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> Any:
        """A hashable key equal for multipliers that build the same network.

        Multipliers act through rounding, so many of them build one network; a matcher
        that counts FLOPs at dozens of multipliers counts each network once per
        resolution. The default key is every parameter's name and shape (built on the
        meta device, no memory); a subclass may know a cheaper one.
        """
        model = self._checked_model_for_counting(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        return tuple((name, tuple(p.shape)) for name, p in model.named_parameters())

    def identity(self) -> dict[str, Any]:
        """What a run scaling this backbone must repeat to continue (JSON-ready)."""
        return {"backbone": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_resolution={self.base_resolution})"


class BackboneCounts:
    """A backbone at one input shape, counted as ``scaling.family_from_coefficients`` asks."""

    flops_source = "fvcore conv+linear"

    def __init__(
        self, backbone: Backbone, *, num_classes: int = 1000, in_channels: int = 3
    ) -> None:
        self.backbone = backbone
        self.name = backbone.name
        self.base_resolution = backbone.base_resolution
        self.shape = {"num_classes": num_classes, "in_channels": in_channels}

    def flops(self, *, width_mult: float, depth_mult: float, resolution: int) -> int:
        return self.backbone.flops(
            width_mult=width_mult, depth_mult=depth_mult, resolution=resolution, **self.shape
        )

    def params(self, *, width_mult: float, depth_mult: float) -> int:
        return self.backbone.params(width_mult=width_mult, depth_mult=depth_mult, **self.shape)
