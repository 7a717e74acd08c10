"""Shared plumbing of the attribution methods: input checks, layer lookup and the gradient engine.

`forward` (the model on an image batch, channels-last where that is faster) lives in `layout`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from fourlens._progress import shown
from fourlens.errors import BadInputError
from fourlens.vision.attribution.layout import forward, logits_of
from fourlens.vision.attribution.targets import needs_logits, resolve_targets


def model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def check_inputs(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Validate an image batch (n, C, H, W) and return it detached as floating point."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of images (n, C, H, W); got {type(x).__name__}")
    if x.ndim != 4:
        raise BadInputError(f"x must be a batch of images with shape (n, C, H, W); got shape {tuple(x.shape)} "
                            "(add a batch dimension with x.unsqueeze(0) for one image)")
    if x.shape[0] == 0:
        raise BadInputError("x holds no images (n = 0)")
    if not x.is_floating_point():
        raise BadInputError(f"x must be floating point (e.g. x.float() / 255); got dtype {x.dtype}")
    device = model_device(model)
    if x.device != device:
        raise BadInputError(f"x is on {x.device} but the model is on {device}; move one of them "
                            f"(x.to('{device}'))")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    return x.detach()


def require_eager(model: nn.Module, method: str) -> None:
    """Layer hooks and ReLU rules cannot reach inside TorchScript; refuse instead of returning plain gradients."""
    if isinstance(model, torch.jit.ScriptModule):
        raise BadInputError(f"{method} needs an eager nn.Module (it hooks layers or ReLUs, which TorchScript "
                            "hides); use saliency, smoothgrad, integrated_gradients or occlusion on a TorchScript "
                            "model, or load it with --model module:factory --weights FILE")


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """A layer given by its `named_modules()` name or as the module itself -> (name, module)."""
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules:
            names = [n for n in modules if n]
            # the closest names first (a typo, a missing index), then the last layers, where CAM layers sit
            close = difflib.get_close_matches(layer, names, n=5, cutoff=0.5)
            shown = close + [n for n in names[-8:] if n not in close]
            raise BadInputError(f"the model has no layer named {layer!r}; names come from "
                                f"model.named_modules() ({len(names)} of them), e.g. {', '.join(shown)}")
        return layer, modules[layer]
    for name, module in modules.items():
        if module is layer:
            return name, module
    raise BadInputError(f"layer {type(layer).__name__} is not a submodule of the model")


def chunks(total: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, total, batch_size):
        yield slice(start, min(start + batch_size, total))


def class_logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits (n, classes) in batches, without building a graph."""
    with torch.no_grad():
        outs = [check_logits(forward(model, x[s])) for s in chunks(x.shape[0], batch_size)]
    return torch.cat(outs)


def check_logits(out: object) -> torch.Tensor:
    """The model's logits (n, classes): a tensor, or a Hugging Face output's `.logits`; else a clear error."""
    out = logits_of(out)
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise BadInputError(f"the model must return class logits of shape (n, classes); it returned {shape}")
    return out


def check_classes(classes: torch.Tensor, n_classes: int) -> None:
    if classes.numel() and (classes.min() < 0 or classes.max() >= n_classes):
        raise ValueError(f"target class indices must lie in [0, {n_classes}) for this model; got "
                         f"{classes.min().item()}..{classes.max().item()}")


def input_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """d logit[target] / d input for one batch: inputs (B, C, H, W), targets (B, T) -> (B, T, C, H, W).

    One forward pass serves all T targets (the graph is kept between the T backward passes), and the
    backward stops at the input: `autograd.grad` with parameters frozen computes no weight gradients.
    Also returns the logits (B, classes), detached.
    """
    inputs = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = check_logits(forward(model, inputs))
        check_classes(targets, logits.shape[1])
        n_targets = targets.shape[1]
        grads = []
        for t in range(n_targets):
            score = logits.gather(1, targets[:, t:t + 1]).sum()  # samples are independent: sum is fine
            (grad,) = torch.autograd.grad(score, inputs, retain_graph=t < n_targets - 1)
            grads.append(grad.contiguous())  # the caller's layout, whatever the model ran in
    return torch.stack(grads, dim=1), logits.detach()


def accumulate_gradients(model: nn.Module, total: int, batch_size: int,
                         make_inputs: Callable[[slice], tuple[torch.Tensor, torch.Tensor]],
                         on_batch: Callable[[slice, torch.Tensor, torch.Tensor], None], *,
                         progress: bool = False, description: str = "gradients") -> None:
    """Run `input_gradients` over `total` virtual inputs, `batch_size` at a time (memory bounded by it).

    `make_inputs(slice)` builds (inputs (B, C, H, W), targets (B, T)); `on_batch(slice, grads, logits)`
    folds each batch's gradients into the caller's running result. `progress`: a bar on a terminal
    when the loop runs longer than a few seconds (`progress.shown`).
    """
    parts = range(0, total, batch_size)
    for start in shown(parts, len(parts), description, progress):
        part = slice(start, min(start + batch_size, total))
        inputs, targets = make_inputs(part)
        grads, logits = input_gradients(model, inputs, targets)
        on_batch(part, grads, logits)


def target_classes(model: nn.Module, x: torch.Tensor, target: object, targets: object, batch_size: int
                   ) -> torch.Tensor:
    """The (n, T) classes to explain; "top1" costs one no-grad forward, so gradient passes stay one pass each."""
    if needs_logits(target, targets):
        logits = class_logits(model, x, batch_size)
        return resolve_targets(target, targets, x.shape[0], logits.shape[1], x.device, logits=logits)
    return resolve_targets(target, targets, x.shape[0], None, x.device)
