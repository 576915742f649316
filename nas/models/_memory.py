"""Peak activation memory measured on a built network: each tensor's bytes, from the
operation that makes it until the last one that reads it.

torch.fx records the network's operations in the order the builder's forward runs them,
and its Interpreter frees each value after its last use; the bytes alive while each
operation runs are the distinct storages it holds then, plus the new output (a view,
such as ``flatten``, shares its source's storage and adds nothing). This is the
measurement ``search_spaces.peak_memory`` is checked against.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn

__all__ = ["measure_peak_memory"]


class _Watcher(fx.Interpreter):
    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module, garbage_collect_values=True)
        self.peak = 0
        self.at = ""

    def run_node(self, node: fx.Node) -> Any:
        result = super().run_node(node)
        storages = {}
        for value in [*self.env.values(), result]:
            if isinstance(value, torch.Tensor):
                storage = value.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
        alive = sum(storages.values())
        if alive > self.peak:
            self.peak, self.at = alive, node.name
        return result


def measure_peak_memory(model: nn.Module, images: torch.Tensor) -> tuple[int, str]:
    """(peak bytes alive at once, the operation where) of one eval-mode forward pass."""
    was_training = model.training
    model.eval()
    try:
        watcher = _Watcher(fx.symbolic_trace(model))
        with torch.no_grad():
            watcher.run(images)
    finally:
        model.train(was_training)
    return watcher.peak, watcher.at
