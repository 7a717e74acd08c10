"""The secant rule for the integrated-gradients path integral (fourlens's `method="secant"`).

IG_i = (x_i - x'_i) * integral_0^1 g_i(a) da with g = grad f at x' + a (x - x') (Sundararajan et al.
2017). Split [0, 1] at `steps` uniform nodes into `steps - 1` intervals. On a network of linear layers
(convolutions, linear, eval-mode batch norm, average pooling, sums) and elementwise nonlinearities, the
gradient at a point is the chain of the layers' weights and each unit's derivative there; over one
interval, replacing each unit's derivative by its secant slope between the interval's two ends,
(y(b) - y(a)) / (z(b) - z(a)) (DeepLIFT's Rescale rule with the left end as reference), gives that
interval's integral *exactly* whenever the units that switch inside it lie in one layer: a ReLU's secant
slope is the fraction of the interval where it is on, and the gradient is linear in one layer's
derivatives. With switches in several layers the error is of second order, so on ReLU networks, whose
path integrand is piecewise constant (fixed rules converge like 1/steps there), the map converges
much faster than with any fixed rule (measured in docs/vision.md), and completeness holds on every
interval, so `delta` is float rounding.

Cost: each node is one row of a forward and backward pass, and each row's backward carries its
interval, so `steps` nodes cost `steps` gradient passes per image as for the fixed rules (plus one
repeated node where a batch boundary cuts an image's path). A row shares its batch with its right
neighbour, so `batch_size=1` still runs two rows at a time.

The rule reaches only what `deeplift.rescale_rule` routes (ReLU, ELU, leaky ReLU, sigmoid, tanh,
softplus, GELU and 2-D max pooling, modules or functional calls). Another nonlinearity (softmax,
layer norm, a product of activations) passes the gradient at the interval's left end, which still
converges but only like 1/steps; `delta` then shows it, and `integrated_gradients` warns.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.vision.attribution._common import check_classes, check_logits
from fourlens.vision.attribution.deeplift import Pairing, rescale_rule
from fourlens.vision.attribution.layout import forward


def secant_path_integral(model: nn.Module, baseline: torch.Tensor, span: torch.Tensor, classes: torch.Tensor,
                         steps: int, batch_size: int, progress: bool = True) -> tuple[torch.Tensor, float]:
    """integral_0^1 grad f_c(x' + a span) da per image and target, (n, T, C, H, W); passes per image.

    `baseline` and `span` = x - x' are (n, C, H, W); `classes` (n, T).
    """
    if steps < 2:
        raise ValueError(f"secant needs steps >= 2 (the path's two end points); got {steps}")
    n, n_targets, device = span.shape[0], classes.shape[1], span.device
    alphas = torch.linspace(0, 1, steps, dtype=torch.float64).to(device=device, dtype=span.dtype)
    width = 1.0 / (steps - 1)
    total = torch.zeros(n, n_targets, *span.shape[1:], device=device, dtype=span.dtype)
    batches = _batches(n, steps, max(batch_size, 2))  # an interval needs both its ends in one batch
    rows = sum(len(image) for image, _node, _paired in batches)
    with Bar(rows, "integrated gradients (secant)", progress) as bar:
        for image, node, paired in batches:
            img = torch.as_tensor(image, device=device)
            has_next = torch.as_tensor(paired, device=device, dtype=span.dtype).view(-1, 1)
            inputs = (baseline[img] + alphas[torch.as_tensor(node, device=device)].view(-1, 1, 1, 1) * span[img]
                      ).requires_grad_(True)
            chosen = classes[img]
            with torch.enable_grad(), rescale_rule(Pairing("next")):
                out = check_logits(forward(model, inputs))
                check_classes(chosen, out.shape[1])
                # Row i carries the interval from its node to the next; a path's last row carries none (its
                # "next" row is another image's), so its score is not seeded.
                for t in range(n_targets):
                    score = (out.gather(1, chosen[:, t:t + 1]) * has_next).sum()
                    (grad,) = torch.autograd.grad(score, inputs, retain_graph=t < n_targets - 1)
                    total[:, t].index_add_(0, img, grad * width)
            bar.advance(len(image))
    return total, rows / n


def _batches(n: int, steps: int, batch_size: int) -> list[tuple[list[int], list[int], np.ndarray]]:
    """Rows (image, node) of every image's path, `batch_size` at a time, in path order; where a batch
    ends inside a path the next batch starts again at its last node. `paired[i]`: row i + 1 is the next
    node of the same path (row i carries an interval)."""
    out, image, node = [], [], []

    def close() -> None:
        paired = np.array([i + 1 < len(image) and image[i + 1] == image[i] and node[i + 1] == node[i] + 1
                           for i in range(len(image))], dtype=bool)
        out.append((list(image), list(node), paired))
        image.clear()
        node.clear()

    for j in range(n):
        k = 0
        while k < steps:
            if len(image) == batch_size:
                close()
                if k > 0:
                    k -= 1  # the interval across the cut: its left node again, beside its right one
            image.append(j)
            node.append(k)
            k += 1
    if image:
        close()
    return out
