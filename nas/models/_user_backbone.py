"""A user's own network as a backbone: ``package.module:function`` returning an ``nn.Module``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

import torch
from torch import nn

from nas.models._backbone import Backbone, BackboneError, check_arguments, one_line
from search_spaces import is_int

__all__ = ["CallableBackbone"]

_CALL_KEYWORDS = ("width_mult", "depth_mult", "num_classes")
_TARGET_HINT = "give it as package.module:function"


def _resolve_target(target: str) -> Callable[..., object]:
    if not isinstance(target, str) or ":" not in target:
        raise BackboneError(f"backbone {target!r} has no ':'; {_TARGET_HINT}")
    module_name, _, attribute = target.partition(":")
    module_name, attribute = module_name.strip(), attribute.strip()
    if not module_name or not attribute:
        raise BackboneError(f"backbone {target!r} lacks a module or a function; {_TARGET_HINT}")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a module's top level may raise anything
        raise BackboneError(
            f"cannot import module {module_name!r} of backbone {target!r} ({one_line(error)}); "
            "check the name and that its directory is on PYTHONPATH"
        ) from None
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise BackboneError(
                f"module {module_name!r} has no function {attribute!r}; "
                "check the spelling after the ':'"
            ) from None
    if not callable(found):
        raise BackboneError(
            f"{target} is a {type(found).__name__}, not a function; point it at a function "
            "returning an nn.Module"
        )
    return found


def _check_signature(function: Callable[..., object], target: str) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as error:
        raise BackboneError(
            f"cannot read the signature of {target} ({one_line(error)}); wrap it in a Python "
            "function taking width_mult, depth_mult, num_classes"
        ) from None
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        keyword_ok = set(_CALL_KEYWORDS)
    else:
        keyword_ok = {
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }
    missing = [name for name in _CALL_KEYWORDS if name not in keyword_ok]
    extra = [
        p.name
        for p in parameters
        if p.name not in _CALL_KEYWORDS
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"does not accept {', '.join(missing)} as keywords")
        if extra:
            problems.append(f"also requires {', '.join(extra)}")
        raise BackboneError(
            f"{target}{signature} {' and '.join(problems)}; define it as "
            "def f(width_mult, depth_mult, num_classes)"
        )


class CallableBackbone(Backbone):
    """A user function ``f(width_mult=, depth_mult=, num_classes=) -> nn.Module`` on RGB images.

    The target is "package.module:function"; an optional ``base_resolution``
    attribute on the function gives its native input size (default 224).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.function = _resolve_target(target)
        _check_signature(self.function, target)
        resolution = getattr(self.function, "base_resolution", 224)
        if not is_int(resolution) or resolution < 1:
            raise BackboneError(
                f"{target}.base_resolution must be a whole number >= 1, got {resolution!r}"
            )
        self.base_resolution = resolution
        self.name = target.partition(":")[2].strip()

    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        if in_channels != 3:
            raise BackboneError(
                f"{self.target} takes 3-channel images, not {in_channels}; use RGB data or a "
                "ResNet or spec backbone"
            )
        arguments = f"width_mult={width_mult}, depth_mult={depth_mult}, num_classes={num_classes}"
        try:
            model = self.function(
                width_mult=width_mult, depth_mult=depth_mult, num_classes=num_classes
            )
        except Exception as error:
            raise BackboneError(
                f"{self.target}({arguments}) raised {one_line(error)}; fix the function"
            ) from None
        if not isinstance(model, nn.Module):
            raise BackboneError(
                f"{self.target}({arguments}) returned a {type(model).__name__}, not an "
                "nn.Module; return the model"
            )
        self._check_forward(model, arguments, num_classes)
        return model

    def _check_forward(self, model: nn.Module, arguments: str, num_classes: int) -> None:
        # A model that cannot take its own base resolution would only fail mid-search.
        size = self.base_resolution
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                output = model(torch.zeros(1, 3, size, size))
        except Exception as error:
            raise BackboneError(
                f"the model of {self.target}({arguments}) fails on a 1x3x{size}x{size} image "
                f"({one_line(error)}); fix its forward or set {self.name}.base_resolution"
            ) from None
        finally:
            model.train(was_training)
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        if shape != (1, num_classes):
            got = f"shape {shape}" if shape is not None else f"a {type(output).__name__}"
            raise BackboneError(
                f"the model of {self.target}({arguments}) returns {got} for one image; it must "
                f"return logits of shape (1, {num_classes})"
            )

    def _model_for_counting(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        # Arbitrary user code need not survive the meta device (timm calls .item() while
        # building), so count a real build.
        return self.build(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
