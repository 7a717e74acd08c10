"""`deconvnet_reconstruction`: map one activation back to pixel space (Zeiler & Fergus 2014, section 2.1).

"To examine a given convnet activation, we set all other activations in the layer to zero and pass the
feature maps as input to the attached deconvnet layer", which then reverses the layers below it:

- max pooling: *unpooling* through the *switches*, the argmax positions recorded on the forward pass
  (the signal goes back to the one input pixel each window picked; overlapping windows add up, which
  is what `nn.MaxUnpool2d` does when windows do not overlap);
- ReLU: the signal itself is rectified (the forward mask is not used);
- convolution: "transposed versions of the same filters", i.e. `conv_transpose1d/2d` with the layer's
  weight (the transposed convolution is the flipped-filter convolution; see `fourlens.vision.transposed_conv`).
  Biases are not subtracted (the paper does not; they do not depend on the input).
- BatchNorm (not in the paper) is reversed by its transpose: eval-mode BatchNorm is y = a x + b per
  channel with a = gamma / sqrt(var + eps); the signal is multiplied by a and the shift b is dropped like
  a bias. With these rules a stack of convolutions and BatchNorms without ReLU or pooling is a linear
  map, and the reconstruction is exactly the input gradient of the selected activation (times its value).
- Dropout and Identity pass the signal through (the forward pass runs in eval mode).

The execution order comes from forward hooks on the real forward pass; the layers up to `layer` must
be a chain (each module's input is the previous module's output, every module called once) of those
kinds. Anything else raises `BadInputError` naming the module. The model is left exactly as found.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fourlens.errors import BadInputError
from fourlens.vision._trace import StopForward, leaf_calls
from fourlens.vision.attribution._common import resolve_layer
from fourlens.vision.attribution.hooks import untouched

_CONVS = (nn.Conv1d, nn.Conv2d)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d)
_BNS = (nn.BatchNorm1d, nn.BatchNorm2d)
_PASS = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d)


def _record(leaf_name: str | None, module: nn.Module, inputs: tuple, output) -> tuple:
    """(name, module, input, input shape, output, switches) of one leaf call (or of the target's)."""
    first = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], torch.Tensor) else None
    switches = None
    if isinstance(module, _POOLS) and first is not None:
        # The switches, taken now: a later in-place op may change the pool's input tensor.
        pool = F.max_pool1d if isinstance(module, nn.MaxPool1d) else F.max_pool2d
        _, switches = pool(first, module.kernel_size, module.stride, module.padding, module.dilation,
                           module.ceil_mode, return_indices=True)
    return (leaf_name, module, first, None if first is None else first.shape, output, switches)


def _chain(calls: list, x: torch.Tensor, name: str) -> list:
    """The leaf calls up to the target, checked to form a chain of supported modules."""
    prev, seen = x, set()
    for leaf_name, module, first, _shape, output, _ in calls[:-1]:
        if first is None or first is not prev or id(module) in seen:
            raise BadInputError(f"the layers up to {name!r} are not a plain chain: module {leaf_name!r} "
                                f"({type(module).__name__}) does not take the previous module's output (a branch, "
                                "a residual add or a functional op in forward()); deconvnet_reconstruction needs "
                                "a chain of modules in forward order")
        if not isinstance(module, (*_CONVS, *_POOLS, *_BNS, *_PASS, nn.ReLU)):
            raise BadInputError(f"module {leaf_name!r} ({type(module).__name__}) before {name!r} has no deconvnet "
                                "rule; supported: Conv1d/2d, MaxPool1d/2d, ReLU, BatchNorm1d/2d, Dropout, Identity")
        if isinstance(module, _CONVS) and module.padding_mode != "zeros":
            raise BadInputError(f"conv {leaf_name!r} uses padding_mode={module.padding_mode!r}; only zero padding "
                                "has a transposed convolution here")
        one_d = isinstance(module, (nn.Conv1d, nn.MaxPool1d, nn.BatchNorm1d))
        if (one_d or isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d))) and one_d != (x.ndim == 3):
            raise BadInputError(f"module {leaf_name!r} ({type(module).__name__}) does not match x of shape "
                                f"{tuple(x.shape)}: pass a batch, (N, C, L) for 1-D layers or (N, C, H, W) for 2-D")
        seen.add(id(module))
        prev = output
    if calls[-1][4] is not prev:
        raise BadInputError(f"{name!r} combines its children's outputs (e.g. a residual add); pick a leaf layer "
                            "or a plain Sequential block")
    return calls[:-1]


def _conv_back(module: nn.Module, signal: torch.Tensor, in_shape: torch.Size) -> torch.Tensor:
    """The conv's transpose: conv_transpose with the same weight, output_padding restoring the input size."""
    dims = signal.ndim - 2
    k = module.kernel_size
    s, d = module.stride, module.dilation
    if module.padding == "valid":
        p = (0,) * dims
    elif module.padding == "same":
        total = [di * (ki - 1) for ki, di in zip(k, d, strict=True)]
        if any(t % 2 for t in total):  # torch pads the odd pixel at the end: no symmetric transpose
            raise BadInputError("padding='same' with an even dilated kernel is padded asymmetrically; "
                                "use numeric padding for deconvnet_reconstruction")
        p = tuple(t // 2 for t in total)
    else:
        p = tuple(module.padding)
    # torch's size formula for the transpose: (n - 1)s - 2p + d(k - 1) + 1; the stride may have dropped pixels.
    extra = [n_in - ((n - 1) * si - 2 * pi + di * (ki - 1) + 1)
             for n_in, n, si, pi, di, ki in zip(in_shape[2:], signal.shape[2:], s, p, d, k, strict=True)]
    back = F.conv_transpose1d if dims == 1 else F.conv_transpose2d
    return back(signal, module.weight, None, s, p, extra, module.groups, d)


def _unpool(signal: torch.Tensor, switches: torch.Tensor, in_shape: torch.Size) -> torch.Tensor:
    """Send each pooled value back to its switch; (N, C, *out) -> (N, C, *in), overlapping windows add."""
    flat = signal.new_zeros(*in_shape[:2], int(torch.tensor(in_shape[2:]).prod()))  # (N, C, H*W)
    flat.scatter_add_(2, switches.flatten(2), signal.flatten(2))
    return flat.view(in_shape)


def _select(out: torch.Tensor, channel: int, position: Sequence[int] | None) -> torch.Tensor:
    """Zero every activation but one per image: `position` in `channel`, or that channel's strongest."""
    if not 0 <= channel < out.shape[1]:
        raise BadInputError(f"channel {channel} is out of range: the layer has {out.shape[1]} channels")
    n, spatial = out.shape[0], out.shape[2:]
    fmap = out[:, channel].reshape(n, -1)  # (N, H*W)
    if position is None:
        flat = fmap.argmax(dim=1)
    else:
        position = tuple(int(i) for i in position)
        if len(position) != len(spatial) or not all(0 <= i < m for i, m in zip(position, spatial, strict=True)):
            raise BadInputError(f"position {position} is outside the layer's {tuple(spatial)} map")
        index = 0
        for i, m in zip(position, spatial, strict=True):  # row-major flat index into (H*W)
            index = index * m + i
        flat = torch.full((n,), index, dtype=torch.long, device=out.device)
    keep = torch.zeros_like(out).reshape(n, out.shape[1], -1)  # (N, C, H*W)
    rows = torch.arange(n, device=out.device)
    keep[rows, channel, flat] = fmap[rows, flat]
    return keep.view_as(out)


def deconvnet_reconstruction(model: nn.Module, x: torch.Tensor, layer: str | nn.Module, channel: int,
                             position: Sequence[int] | None = None) -> torch.Tensor:
    """Zeiler & Fergus's deconvnet projection of one activation of `layer` into pixel space, shaped like x.

    x: (N, C, H, W) or (N, C, L). For each image the activation kept is `position` (row, col) of
    `channel`, or, by default, the strongest activation of `channel`; all others are zeroed and the
    signal goes back through the layers below: unpooling with the recorded switches, ReLU on the
    signal, the transposed filters of each conv, BatchNorm's scale. Raises `BadInputError` for
    branching models and layers without a deconvnet rule. The model is left exactly as found.
    """
    if not isinstance(x, torch.Tensor) or x.ndim not in (3, 4) or not x.is_floating_point():
        raise BadInputError("x must be a float tensor (N, C, H, W) or (N, C, L); got "
                            f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    name, target = resolve_layer(model, layer)
    with untouched(model), torch.no_grad(), leaf_calls(model, target, _record) as calls:
        model.eval()  # the deconvnet inverts the inference-time network; untouched() restores the modes
        try:
            model(x)
        except StopForward:
            pass
        except RuntimeError as exc:
            raise BadInputError(f"the model failed on x of shape {tuple(x.shape)} ({exc})") from exc
        else:
            raise BadInputError(f"the model's forward pass never reached {name!r} (is it used in forward()?)")
        out = calls[-1][4]
        if not isinstance(out, torch.Tensor) or out.ndim != x.ndim:
            raise BadInputError(f"layer {name!r} returns "
                                f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}, "
                                f"not a feature map like x {tuple(x.shape)}; pick a conv/pool/ReLU layer")
        chain = _chain(calls, x, name)
        signal = _select(out, channel, position)
        for _leaf, module, _first, in_shape, _output, switches in reversed(chain):
            if isinstance(module, _CONVS):
                signal = _conv_back(module, signal, in_shape)
            elif isinstance(module, _POOLS):
                signal = _unpool(signal, switches, in_shape)
            elif isinstance(module, nn.ReLU):
                signal = signal.clamp(min=0)  # rectify the reconstruction, as the forward pass rectified
            elif isinstance(module, _BNS):
                var = module.running_var if module.track_running_stats else None
                if var is None:
                    raise BadInputError("a BatchNorm without running statistics has no fixed scale to reverse")
                scale = (var + module.eps).rsqrt()
                if module.weight is not None:
                    scale = scale * module.weight
                signal = signal * scale.view(1, -1, *([1] * (signal.ndim - 2)))
        calls.clear()
    return signal.detach()
