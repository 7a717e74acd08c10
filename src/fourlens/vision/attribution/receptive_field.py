"""`receptive_field(model, layer)`: which input pixels a unit of a conv layer can see, and how far apart units are.

Arithmetic (Dumoulin & Visin 2016; Araujo et al. 2019, "Computing receptive fields of convolutional
neural networks"): walking the layers in forward order with r_0 = 1, j_0 = 1, start_0 = 0, a layer with
kernel k, stride s, padding p and dilation d gives

    r_out = r_in + d(k - 1) j_in,   j_out = j_in s,   start_out = start_in - p j_in,

where r is the field size, j the jump (the effective stride: input pixels between neighbouring units)
and start the input coordinate of the first pixel of unit 0's field (negative: it begins in the
padding). Unit i then sees input pixels start + i j ... start + i j + r - 1 on each axis. Elementwise
layers (activations, BatchNorm, Dropout) change nothing.

The execution order comes from forward hooks on a dummy input; the arithmetic is used when the layers
up to `layer` form a chain (each one's input is the previous one's output) of known kinds. Anything else
(residual additions, concatenations, reshapes, unknown modules) falls back to the empirical field: on a
copy of the model with positive weights, zero biases, identity BatchNorm and max-pool modules swapped for
average pools (so every path passes gradient), the field is the bounding box of the nonzero gradient of
one central unit with respect to the input, and the jump is the shift of that box between neighbouring
units. The model itself is only run (in eval mode, without gradients) and is left exactly as found.
"""

from __future__ import annotations

import copy
import html
import weakref
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision._trace import StopForward, leaf_calls
from fourlens.vision.attribution._common import model_device, resolve_layer
from fourlens.vision.attribution.hooks import untouched

_ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
                nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Identity,
                nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout)
_WINDOWED = (nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
_MAX_SIDE = {1: 16384, 2: 512}  # the empirical probe grows the input up to this side before giving up


@dataclass(frozen=True)
class LayerField:
    """The field after one layer of the chain: per spatial axis (rows, cols in 2-D)."""

    name: str
    kind: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[int, ...]


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of `layer`'s units; `layers` is the arithmetic chain (empty for the gradient method)."""

    layer: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[int, ...]
    method: Literal["arithmetic", "gradient"]
    layers: tuple[LayerField, ...] = ()

    def box(self, *position: int, clip_to: tuple[int, ...] | None = None) -> tuple[tuple[int, int], ...]:
        """Input pixels `(begin, end)` (end exclusive) per axis seen by the unit at `position` (row, col)."""
        if len(position) != len(self.size):
            raise ValueError(f"give one index per spatial axis ({len(self.size)}); got {position}")
        spans = [(b := st + i * j, b + r) for i, st, j, r in zip(position, self.start, self.jump, self.size,
                                                                  strict=True)]
        if clip_to is not None:
            spans = [(max(0, b), min(n, e)) for (b, e), n in zip(spans, clip_to, strict=True)]
        return tuple(spans)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "size": list(self.size), "jump": list(self.jump), "start": list(self.start),
                "method": self.method, "layers": [asdict(f) for f in self.layers]}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(f.name)}</td><td>{f.kind}</td><td>{f.size}</td><td>{f.jump}</td>"
                       f"<td>{f.start}</td></tr>" for f in self.layers)
        head = (f"<b>receptive field of {html.escape(self.layer)}</b> ({self.method}): size {self.size}, "
                f"jump {self.jump}, start {self.start}")
        if not rows:
            return f"<div>{head}</div>"
        return (f"<div>{head}<table><tr><th>layer</th><th>kind</th><th>size</th><th>jump</th><th>start</th></tr>"
                f"{rows}</table></div>")


def _pair(value: int | tuple[int, ...] | str, dims: int) -> tuple[int, ...]:
    return (value,) * dims if isinstance(value, int) else tuple(value)  # type: ignore[arg-type]


def _window(module: nn.Module, dims: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                                   tuple[int, ...]]:
    """(kernel, stride, left padding, dilation) per axis of a conv or pooling layer."""
    k = _pair(module.kernel_size, dims)
    s = _pair(module.stride if module.stride is not None else module.kernel_size, dims)
    d = _pair(getattr(module, "dilation", 1), dims)
    if module.padding == "valid":
        p = (0,) * dims
    elif module.padding == "same":  # torch pads d(k-1) in total, the odd one at the end
        p = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
    else:
        p = _pair(module.padding, dims)
    return k, s, p, d


def _recording(model: nn.Module, name: str, target: nn.Module):
    """Record (name, module, inputs, output) for every leaf call in forward order; stop after `target`."""
    return leaf_calls(model, target, lambda leaf, module, inputs, output: (leaf, module, inputs, output))


def _run_to(model: nn.Module, x: torch.Tensor) -> None:
    try:
        model(x)
    except StopForward:
        return
    raise BadInputError("the model's forward pass never reached the layer (is it used in forward()?)")


def _arithmetic(calls: list, x: torch.Tensor, dims: int) -> tuple[LayerField, ...] | None:
    """The chain's fields, or None when the layers up to `name` are not a plain chain of known kinds."""
    prev, seen, fields = x, set(), []
    size, jump, start = [1] * dims, [1] * dims, [0] * dims
    for leaf_name, module, inputs, output in calls[:-1]:
        if id(module) in seen or len(inputs) != 1 or inputs[0] is not prev:
            return None
        seen.add(id(module))
        if isinstance(module, _WINDOWED):
            if module.__class__.__name__[-2] != str(dims):  # e.g. a Conv1d inside a 2-D net
                return None
            k, s, p, d = _window(module, dims)
            for a in range(dims):
                size[a] += d[a] * (k[a] - 1) * jump[a]
                start[a] -= p[a] * jump[a]
                jump[a] *= s[a]
        elif not isinstance(module, _ELEMENTWISE):
            return None
        fields.append(LayerField(leaf_name, type(module).__name__, tuple(size), tuple(jump), tuple(start)))
        prev = output
    if calls[-1][3] is not prev:  # a container that combines its children's outputs (e.g. a residual add)
        return None
    return tuple(fields)


def _positive_probe(model: nn.Module) -> nn.Module:
    """A copy in which every path passes gradient: positive weights, no biases, identity BN, average pools."""
    probe = copy.deepcopy(model).eval()
    for module in probe.modules():
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            getattr(module, hooks, {}).clear()
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d)) and child.dilation in (1, (1,), (1, 1)):
                pool = nn.AvgPool1d if isinstance(child, nn.MaxPool1d) else nn.AvgPool2d
                setattr(module, child_name, pool(child.kernel_size, child.stride, child.padding, child.ceil_mode))
            elif isinstance(child, nn.AdaptiveMaxPool2d):
                setattr(module, child_name, nn.AdaptiveAvgPool2d(child.output_size))
    with torch.no_grad():
        for module in probe.modules():
            if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
                module.weight.fill_(1.0 / module.weight[0].numel())  # activations stay ~1 at any depth
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
                if module.weight is not None:
                    module.weight.fill_(1.0)
            bias = getattr(module, "bias", None)
            if isinstance(bias, torch.Tensor):
                bias.zero_()
    return probe


def _support(grad: torch.Tensor) -> list[tuple[int, int]]:
    """Per spatial axis, the first and last index where the input gradient (1, C, *spatial) is nonzero."""
    mask = grad.abs().sum(dim=(0, 1)) > 0
    spans = []
    for a in range(mask.ndim):
        other = tuple(b for b in range(mask.ndim) if b != a)
        hit = (mask.any(dim=other) if other else mask).nonzero().flatten()
        spans.append((int(hit[0]), int(hit[-1])) if hit.numel() else (-1, -1))
    return spans


def _gradient(model: nn.Module, name: str, shape: tuple[int, ...], dtype: torch.dtype,
              device: torch.device) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    probe = _positive_probe(model)
    target = dict(probe.named_modules())[name]
    dims, side = len(shape) - 2, max(shape[2:])
    gen = torch.Generator().manual_seed(0)
    while True:
        x = (torch.rand(1, shape[1], *([side] * dims), generator=gen, dtype=dtype) + 0.5).to(device)
        x.requires_grad_(True)
        with _recording(probe, name, target) as calls, torch.enable_grad():
            try:
                _run_to(probe, x)
            except RuntimeError:
                calls.clear()
            out = calls[-1][3] if calls else None
            if isinstance(out, torch.Tensor) and out.ndim == dims + 2 and min(out.shape[2:]) >= 3:
                centre = [n // 2 - 1 for n in out.shape[2:]]
                boxes = []
                for step in (0, 1):  # the central unit and its diagonal neighbour: their shift is the jump
                    unit = out[(0, slice(None), *(c + step for c in centre))].sum()
                    (grad,) = torch.autograd.grad(unit, x, retain_graph=True)
                    boxes.append(_support(grad))
                inside = all(lo > 0 and hi < side - 1 for lo, hi in boxes[0] + boxes[1])
                if inside:
                    jump = tuple(b[0] - a[0] for a, b in zip(boxes[0], boxes[1], strict=True))
                    size = tuple(hi - lo + 1 for lo, hi in boxes[0])
                    start = tuple(lo - c * j for (lo, _), c, j in zip(boxes[0], centre, jump, strict=True))
                    return size, jump, start
        if side >= _MAX_SIDE[dims]:
            raise BadInputError(f"the receptive field of {name!r} covers the whole input even at side {side} "
                                "(a global pooling or a non-spatial layer before it?); pass a spatial conv layer")
        side *= 2


def receptive_field(model: nn.Module, layer: str | nn.Module, input_shape: tuple[int, ...] | None = None,
                    method: Literal["auto", "arithmetic", "gradient"] = "auto") -> ReceptiveField:
    """The receptive field (size, jump, start per spatial axis) of `layer`'s units in input pixels.

    `layer` is a `model.named_modules()` name or the module. `input_shape` (1, C, *spatial) is the dummy
    input used to trace the forward order (default: the first conv's in_channels at 64x64, or length 256
    in 1-D). `method="auto"` uses the arithmetic when the layers up to `layer` form a plain chain of
    conv/pool/elementwise layers, else the gradient probe; "arithmetic" raises instead of falling back.
    """
    if method not in ("auto", "arithmetic", "gradient"):
        raise ValueError(f"method must be 'auto', 'arithmetic' or 'gradient'; got {method!r}")
    name, _ = resolve_layer(model, layer)
    # A field depends on the layers' kinds and geometry, not on the weights: one probe per model
    # structure, layer and input shape (the probe runs the model, and copies it for the gradient method).
    key = (_structure(model), name, None if input_shape is None else tuple(input_shape), method)
    cached = _FIELDS.setdefault(model, {})
    if key not in cached:
        try:
            cached[key] = _receptive_field(model, layer, input_shape, method)
        except BadInputError as exc:
            cached[key] = exc
    if isinstance(cached[key], BadInputError):
        raise cached[key]
    return cached[key]


_FIELDS: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def _structure(model: nn.Module) -> tuple:
    """The model's layers as names and their reprs (kinds, kernels, strides, paddings), not weights."""
    return tuple((name, type(module).__name__, module.extra_repr()) for name, module in model.named_modules())


def _receptive_field(model: nn.Module, layer: str | nn.Module, input_shape: tuple[int, ...] | None,
                     method: str) -> ReceptiveField:
    name, target = resolve_layer(model, layer)
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    device = model_device(model)
    if input_shape is None:
        first = next((m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))), None)
        if first is None:
            raise BadInputError("the model has no Conv1d/Conv2d to infer the input from; pass input_shape=(1, C, H, W)")
        input_shape = (1, first.in_channels, *([256] if isinstance(first, nn.Conv1d) else [64, 64]))
    x = torch.rand(*input_shape, generator=torch.Generator().manual_seed(0), dtype=dtype).to(device)
    with untouched(model), torch.no_grad(), _recording(model, name, target) as calls:
        model.eval()  # BatchNorm on a dummy batch of one; untouched() restores every module's mode
        try:
            _run_to(model, x)
        except RuntimeError as exc:
            raise BadInputError(f"the model failed on a dummy input of shape {tuple(input_shape)} ({exc}); pass "
                                "input_shape= with the shape your model expects") from exc
    out = calls[-1][3]
    dims = len(input_shape) - 2
    if not isinstance(out, torch.Tensor) or out.ndim != len(input_shape) or dims not in (1, 2):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise BadInputError(f"layer {name!r} returns {shape}, not a spatial map like the input "
                            f"{tuple(input_shape)}; receptive fields are defined for conv/pool layers")
    chain = None if method == "gradient" else _arithmetic(calls, x, dims)
    calls.clear()  # drop the references to activations
    if chain:
        last = chain[-1]
        return ReceptiveField(name, last.size, last.jump, last.start, "arithmetic", chain)
    if method == "arithmetic":
        raise BadInputError(f"the layers up to {name!r} are not a plain chain of conv/pool/elementwise modules "
                            "(a branch, a reshape or an unknown module); use method='gradient' or 'auto'")
    size, jump, start = _gradient(model, name, tuple(input_shape), dtype, device)
    return ReceptiveField(name, size, jump, start, "gradient")
