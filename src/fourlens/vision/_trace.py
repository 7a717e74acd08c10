"""Forward-pass tracing shared by the inside-the-network methods: stop a forward pass at a layer, and
record every leaf module call up to it in execution order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn


class StopForward(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised from a forward hook once the layers of interest have run: the rest is not needed."""


@contextmanager
def leaf_calls(model: nn.Module, target: nn.Module,
               record: Callable[[str | None, nn.Module, tuple, Any], tuple]) -> Iterator[list[tuple]]:
    """Hooks on every leaf module that append `record(name, module, inputs, output)` to the yielded list,
    in forward order; after `target` runs, `record(None, target, (), output)` is appended and the forward
    pass is stopped with `StopForward`. The hooks are removed on exit, errors included."""
    calls: list[tuple] = []
    handles = []

    def leaf_hook(leaf_name: str):
        def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
            calls.append(record(leaf_name, module, inputs, output))
        return hook

    def stop_hook(_module: nn.Module, _inputs: tuple, output: Any) -> None:
        calls.append(record(None, target, (), output))
        raise StopForward

    try:
        for leaf_name, module in model.named_modules():
            if not any(True for _ in module.children()):
                handles.append(module.register_forward_hook(leaf_hook(leaf_name)))
        handles.append(target.register_forward_hook(stop_hook))
        yield calls
    finally:
        for handle in handles:
            handle.remove()
