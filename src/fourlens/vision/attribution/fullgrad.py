"""FullGrad (Srinivas & Fleuret 2019, "Full-Gradient Representation for Neural-Network Visualization").

The full-gradient decomposition writes the output as input-gradient x input plus, for every bias b of
the network, bias-gradient x bias. FullGrad's saliency map sums, over the input and every 2-D bias layer
(convolutions with a bias, and BatchNorm, whose effective bias is beta - mean * gamma / sqrt(var + eps)),
the post-processed |grad x value| maps: psi(m) = min-max scaled per channel, upsampled (bilinear) to the
image and summed over channels. That is the authors' code and pytorch-grad-cam's FullGrad; Linear biases
are left out, as there (they have no spatial map).

One forward and one backward to the input per image and target: every bias layer's output gradient is
read on the way by a tensor hook registered in the forward pass (so an in-place ReLU right after a layer
does not hide the gradient of its output). Bilinear upsampling is linear, so each layer's channels are
summed before upsampling (one resize per layer instead of one per channel).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fourlens._progress import Bar
from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import (
    check_classes,
    check_inputs,
    check_logits,
    chunks,
    target_classes,
)
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

EPS = 1e-7  # in (m - min) / (max - min + eps), as pytorch-grad-cam's scale_cam_image


def bias_layers(model: nn.Module) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """(name, module, effective bias (K,)) of every Conv2d with a bias and every BatchNorm2d."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module.bias is not None:
            found.append((name, module, module.bias.detach()))
        elif isinstance(module, nn.BatchNorm2d) and module.affine:
            if module.running_mean is None:
                raise BadInputError(f"fullgrad needs BatchNorm running statistics; {name!r} has none "
                                    "(track_running_stats=False)")
            scale = module.weight.detach() / torch.sqrt(module.running_var + module.eps)
            found.append((name, module, module.bias.detach() - module.running_mean * scale))
    return found


def _scaled_channel_sum(maps: torch.Tensor) -> torch.Tensor:
    """(B, K, h, w) -> (B, h, w): each channel min-max scaled, then summed over channels."""
    flat = maps.flatten(2)
    low = flat.amin(dim=2)[..., None, None]
    shifted = maps - low
    return (shifted / (EPS + shifted.flatten(2).amax(dim=2)[..., None, None])).sum(dim=1)


def fullgrad(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
             targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
             progress: bool = True) -> Attribution:
    """FullGrad saliency (n[, T], H, W) at the image's resolution, non-negative, before the final scaling
    (`heatmap()` scales it). Uses every Conv2d-with-bias and BatchNorm2d layer (`bias_layers`).
    `progress`: a bar over the images on a terminal when the run lasts more than a few seconds."""
    x = check_inputs(model, x, batch_size)
    n, size = x.shape[0], tuple(x.shape[-2:])
    with untouched(model):
        layers = bias_layers(model)
        classes = target_classes(model, x, target, targets, batch_size)
        grads: dict[str, torch.Tensor] = {}
        handles = []

        def tap(name: str):
            def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
                if output.requires_grad:  # the gradient of this output, before any in-place op after it
                    output.register_hook(lambda g: grads.__setitem__(name, g))
            return hook

        out = []
        bar = Bar(n, "fullgrad", progress)
        try:
            for name, module, _bias in layers:
                handles.append(module.register_forward_hook(tap(name)))
            for part in chunks(n, batch_size):
                inputs = x[part].detach().requires_grad_(True)
                chosen = classes[part]
                with torch.enable_grad():
                    scores = check_logits(forward(model, inputs))
                    check_classes(chosen, scores.shape[1])
                    per_target = []
                    for t in range(chosen.shape[1]):
                        grads.clear()
                        (grad_x,) = torch.autograd.grad(scores.gather(1, chosen[:, t:t + 1]).sum(), inputs,
                                                        retain_graph=t < chosen.shape[1] - 1)
                        per_target.append(_saliency(inputs.detach(), grad_x, layers, grads, size))
                out.append(torch.stack(per_target, dim=1))  # (B, T, H, W)
                bar.advance(part.stop - part.start)
        finally:
            bar.close()
            for handle in handles:
                handle.remove()
    return finish(torch.cat(out), classes, targets, "fullgrad",
                  params={"bias_layers": [name for name, _m, _b in layers]})


def _saliency(x: torch.Tensor, grad_x: torch.Tensor, layers: list, grads: dict[str, torch.Tensor],
              size: tuple[int, int]) -> torch.Tensor:
    """psi(|grad_x * x|) + sum over bias layers of psi(|grad_b * b|): (B, H, W)."""
    total = _scaled_channel_sum((grad_x * x).abs())
    for name, _module, bias in layers:
        grad = grads.get(name)
        if grad is None:
            continue  # the layer did not run in this forward, or does not reach the target
        layer_map = _scaled_channel_sum((grad * bias.view(1, -1, 1, 1)).abs()).unsqueeze(1)  # (B, 1, h, w)
        if tuple(layer_map.shape[-2:]) != size:
            layer_map = F.interpolate(layer_map, size=size, mode="bilinear", align_corners=False)
        total = total + layer_map[:, 0]
    return total
