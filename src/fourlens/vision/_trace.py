"""Forward-pass tracing shared by feature visualization, deep dream, deconvnet reconstructions and receptive
fields: stop a forward pass at a layer (reading its output), and record every leaf module call up to it in
execution order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError


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


def layer_output(model: nn.Module, module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """`module`'s output for input x; the forward pass stops there (`StopForward`), later layers never run."""
    store: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if not isinstance(output, torch.Tensor):
            raise BadInputError(f"layer {type(module).__name__} returns {type(output).__name__}, not a tensor; "
                                "pick a layer whose output is one activation tensor")
        store["out"] = output
        raise StopForward

    handle = module.register_forward_hook(hook)
    try:
        with suppress(StopForward):
            model(x)
    finally:
        handle.remove()
    if "out" not in store:
        raise BadInputError(f"layer {name!r} did not run in the model's forward pass")
    return store["out"]


def check_channel(a: torch.Tensor, channel: int, name: str) -> None:
    """A clear error when `channel` is not a channel (dim 1) of the layer output `a`."""
    if a.ndim < 2 or not 0 <= channel < a.shape[1]:
        raise BadInputError(f"channel {channel} is out of range: layer {name!r} outputs {tuple(a.shape)} "
                            f"(channels 0..{a.shape[1] - 1 if a.ndim >= 2 else 0})")
