"""Peak activation memory of a spec's network at inference, exact, without building it.

On a microcontroller the first stages' activations, not the weights, decide whether a
network fits (MCUNet, arXiv 2007.10319). This counts them the way an executor that
runs the builder's operations in order and frees each tensor after its last use holds
them (torch.fx's Interpreter does exactly that, and the tests measure the built network
with it): at each operation, its inputs, its output and every tensor a later operation
still needs are alive. A residual block's input stays alive across the block for the
final add; the squeeze-excitation branch's vectors and the gated map are counted where
they live. Batch norm and the activation are operations of their own, as in the
builder (a deployment runtime that fuses them into the conv holds one tensor fewer at
those steps). Batch 1, float32 or int8 (one byte an element).

Plain arithmetic: this module must not import torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from search_spaces._counting import feature_size
from search_spaces._network import NetworkSpec
from search_spaces._stage import StageSpec

__all__ = [
    "BYTES",
    "MemoryPeak",
    "peak_memory",
    "peak_memory_by_part",
    "peak_memory_by_stage",
]

BYTES = {"float32": 4, "int8": 1}


@dataclass(frozen=True)
class _Op:
    part: str  # "stem", "stage 3 block 1", "head"
    name: str  # what runs: "conv", "bn", "act", "se pool", ...
    elements: int  # of its output; 0 where the output is a view of its input
    inputs: tuple[int, ...]  # indices of the values it reads (-1: the image)


@dataclass(frozen=True)
class MemoryPeak:
    """The most activation memory alive at once, and where."""

    elements: int  # at batch 1
    part: str
    operation: str

    def bytes(self, dtype: str = "float32") -> int:
        return self.elements * BYTES[dtype]


class _Tape:
    """The builder's operations in order, each output a value later ones may read."""

    def __init__(self) -> None:
        self.ops: list[_Op] = []

    def add(self, part: str, name: str, elements: int, *inputs: int) -> int:
        self.ops.append(_Op(part, name, elements, inputs))
        return len(self.ops) - 1

    def conv_bn(self, part: str, x: int, channels: int, size: int, act: bool) -> int:
        area = channels * size * size
        x = self.add(part, "bn", area, self.add(part, "conv", area, x))
        return self.add(part, "act", area, x) if act else x


def _se(tape: _Tape, part: str, x: int, mid: int, size: int, in_ch: int, ratio: float) -> int:
    squeezed = max(1, int(in_ch * ratio))
    pooled = tape.add(part, "se pool", mid, x)
    gate = tape.add(part, "se act", squeezed, tape.add(part, "se reduce", squeezed, pooled))
    gate = tape.add(part, "se gate", mid, tape.add(part, "se expand", mid, gate))
    return tape.add(part, "se multiply", mid * size * size, x, gate)


def _block(
    tape: _Tape, part: str, x: int, stage: StageSpec, in_ch: int, stride: int, size: int
) -> tuple[int, int]:
    """(output value, output size) of one block of ``stage``."""
    out_size = feature_size(size, stride)
    mid = in_ch * stage.expand_ratio
    se = stage.se_ratio
    if stage.fused:
        if stage.expand_ratio == 1:  # the kxk conv is the whole block, no SE
            y = tape.conv_bn(part, x, stage.out_channels, out_size, act=True)
        else:
            y = tape.conv_bn(part, x, mid, out_size, act=True)
            if se is not None:
                y = _se(tape, part, y, mid, out_size, in_ch, se)
            y = tape.conv_bn(part, y, stage.out_channels, out_size, act=False)
    else:
        y = tape.conv_bn(part, x, mid, size, act=True) if stage.expand_ratio != 1 else x
        y = tape.conv_bn(part, y, mid, out_size, act=True)  # depthwise
        if se is not None:
            y = _se(tape, part, y, mid, out_size, in_ch, se)
        y = tape.conv_bn(part, y, stage.out_channels, out_size, act=False)
    if stage.skip and stride == 1 and in_ch == stage.out_channels:
        y = tape.add(part, "residual add", stage.out_channels * out_size**2, y, x)
    return y, out_size


def _tape(spec: NetworkSpec, resolution: int) -> _Tape:
    tape = _Tape()
    size = feature_size(resolution, spec.stem_stride)
    x = tape.conv_bn("stem", -1, spec.stem_channels, size, act=True)
    for index, stage in enumerate(spec.stages):
        for repeat in range(stage.repeats):
            first = repeat == 0
            x, size = _block(
                tape,
                f"stage {index} block {repeat}",
                x,
                stage,
                stage.in_channels if first else stage.out_channels,
                stage.stride if first else 1,
                size,
            )
    x = tape.conv_bn("head", x, spec.head_channels, size, act=True)
    x = tape.add("head", "pool", spec.head_channels, x)
    x = tape.add("head", "flatten", 0, x)  # views: no memory of their own
    x = tape.add("head", "dropout", 0, x)
    tape.add("head", "linear", spec.num_classes, x)
    return tape


def _alive(tape: _Tape, image: int) -> Iterator[tuple[_Op, int]]:
    """Each operation with the elements alive while it runs."""
    ops = tape.ops
    # A view lives on its source's memory: the source stays as long as the view is read.
    owner = {-1: -1}
    for index, op in enumerate(ops):
        owner[index] = owner[op.inputs[0]] if op.elements == 0 else index
    # Each tensor is alive from the operation that makes it to the last one that reads it
    # (or a view of it); the network's output, read by none, for its own operation.
    until = {index: index for index, op in enumerate(ops) if op.elements}
    until[-1] = 0
    for index, op in enumerate(ops):
        for value in op.inputs:
            until[owner[value]] = max(until[owner[value]], index)
    change = [0] * (len(ops) + 1)  # a difference array: one pass, however many tensors
    for value, last in until.items():
        change[max(value, 0)] += image if value == -1 else ops[value].elements
        change[last + 1] -= image if value == -1 else ops[value].elements
    alive = 0
    for index, op in enumerate(ops):
        alive += change[index]
        yield op, alive


def peak_memory(spec: NetworkSpec, resolution: int | None = None) -> MemoryPeak:
    """The largest number of activation elements alive at once (batch 1), and where."""
    resolution = spec.resolution if resolution is None else resolution
    image = spec.in_channels * resolution * resolution
    best = max(_alive(_tape(spec, resolution), image), key=lambda pair: pair[1])
    return MemoryPeak(best[1], best[0].part, best[0].name)


def peak_memory_by_part(spec: NetworkSpec, resolution: int | None = None) -> dict[str, MemoryPeak]:
    """Each part's own peak (stem, each block, head), in execution order."""
    resolution = spec.resolution if resolution is None else resolution
    image = spec.in_channels * resolution * resolution
    parts: dict[str, MemoryPeak] = {}
    for op, alive in _alive(_tape(spec, resolution), image):
        if op.part not in parts or alive > parts[op.part].elements:
            parts[op.part] = MemoryPeak(alive, op.part, op.name)
    return parts


def peak_memory_by_stage(
    spec: NetworkSpec, resolution: int | None = None
) -> tuple[MemoryPeak, ...]:
    """The peak of the stem, of each stage (its largest block's) and of the head: one
    for each of ``count_by_part``'s parts, in its order."""
    stages: dict[str, MemoryPeak] = {}
    for part, peak in peak_memory_by_part(spec, resolution).items():
        key = " ".join(part.split()[:2])  # "stage 3 block 1" -> "stage 3"
        if key not in stages or peak.elements > stages[key].elements:
            stages[key] = peak
    return tuple(stages.values())
