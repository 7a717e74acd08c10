"""Adaptive node placement for the integrated-gradients path integral (fourlens's `method="adaptive"`).

IG_i = (x_i - x'_i) * integral_0^1 g_i(a) da with g = grad f at x' + a (x - x') (Sundararajan et al.
2017). This module computes that same integral with the composite trapezoid rule, but chooses where the
nodes go. The observation: every gradient pass at a node a also returns f(x_a). On an interval
[a, b] between two nodes the exact integral of the path derivative d(a) = (x - x') . g(a) is known,
f(x_b) - f(x_a) (fundamental theorem of calculus), so the trapezoid rule's error on that interval,
(b - a) / 2 * (d(a) + d(b)) - (f(x_b) - f(x_a)), is known exactly, for free. For a ReLU network the
integrand is piecewise constant along the path (it jumps wherever a unit switches), so fixed nodes
converge only like 1/steps; spending the remaining passes on bisecting the intervals with the largest
known error puts the nodes where the jumps are.

The completeness error alone is a poor guide: per-pixel errors cancel in the sum, and refining only
where the sum is off lowers `delta` while the map gets *less* accurate (measured, docs/vision.md). So
each interval is ranked by its known completeness error plus a bound on its per-pixel error from the
two end gradients, h/2 sum_i |span_i (g_i(b) - g_i(a))| (exact for one jump in the interval).

Nothing is rescaled: the attribution is the trapezoid sum over the chosen nodes, so `delta` (the
completeness error) still honestly reports how far the quadrature is from the exact integral. When
the integrand is linear in a (e.g. a quadratic model) every interval error is zero and the result is
the plain trapezoid rule, which is then exact.

Cost: `steps` gradient passes per image, as for the fixed rules, in rounds: a uniform grid of
`min(steps, 9)` nodes, then rounds of `k = ceil((steps - 9) / 10)` bisections per image, images of a
group refined together so each round is about one `batch_size` batch. The node gradients are kept
until the end (a node's trapezoid weight changes when a neighbour is inserted), so peak memory holds
`group x steps` input-sized gradients, group = batch_size // k, so at most about 19 x batch_size
(9 / k + 10 per batch slot), whatever `steps` and the number of images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.vision.attribution._common import input_gradients

INITIAL_NODES = 9
ROUNDS = 10
# How intervals are ranked: "sum+jump" (the default) adds the per-pixel bound to the completeness error;
# "sum", the completeness error alone, lowers delta but makes the map itself less accurate than the plain
# trapezoid rule (nodes chase cancelling errors, docs/vision.md); benchmarks/vision/ig_quadrature.py
# measures both.
INDICATORS = ("sum+jump", "sum")


def adaptive_path_integral(model: nn.Module, baseline: torch.Tensor, span: torch.Tensor, classes: torch.Tensor,
                           steps: int, batch_size: int, progress: bool = True, indicator: str = "sum+jump"
                           ) -> tuple[torch.Tensor, float]:
    """integral_0^1 grad f_c(x' + a span) da per image and target, (n, T, C, H, W); mean passes per image.

    `baseline` and `span` = x - x' are (n, C, H, W); `classes` (n, T); `indicator` one of `INDICATORS`.
    """
    if indicator not in INDICATORS:
        raise ValueError(f"indicator must be one of {', '.join(INDICATORS)}; got {indicator!r}")
    if steps < 2:
        raise ValueError(f"adaptive needs steps >= 2 (the path's two end points); got {steps}")
    n = span.shape[0]
    initial = min(steps, INITIAL_NODES)
    per_round = max(1, math.ceil((steps - initial) / ROUNDS))
    group = max(1, batch_size // per_round)
    total = torch.zeros(n, classes.shape[1], *span.shape[1:], device=span.device, dtype=span.dtype)
    passes = 0
    with Bar(n * steps, "integrated gradients (adaptive)", progress) as bar:
        for first in range(0, n, group):
            rows = torch.arange(first, min(first + group, n), device=span.device)
            passes += _refine_group(model, baseline[rows], span[rows], classes[rows], steps, initial, per_round,
                                    batch_size, total, rows, bar, indicator)
    return total, passes / n


def _refine_group(model: nn.Module, baseline: torch.Tensor, span: torch.Tensor, classes: torch.Tensor, steps: int,
                  initial: int, per_round: int, batch_size: int, total: torch.Tensor, rows: torch.Tensor,
                  bar: Bar, indicator: str) -> int:
    """Place `steps` nodes for each image of one group; add the trapezoid sums to `total[rows]`."""
    g, n_targets = span.shape[0], classes.shape[1]
    grads = torch.empty(g, steps, n_targets, *span.shape[1:], device=span.device, dtype=span.dtype)
    alphas = np.zeros((g, steps))
    f = np.zeros((g, steps, n_targets))  # f_c(x_a) per node and target
    d = np.zeros((g, steps, n_targets))  # d_c(a) = span . grad f_c(x_a)
    used = np.zeros(g, dtype=int)
    stopped = np.zeros(g, dtype=bool)

    def evaluate(image: list[int], alpha: list[float]) -> None:
        """Gradient passes at the new nodes, `batch_size` at a time; store them in the next free slots."""
        img = torch.as_tensor(image, device=span.device)
        a = torch.as_tensor(alpha, device=span.device, dtype=span.dtype)
        for start in range(0, len(image), batch_size):
            part = slice(start, start + batch_size)
            inputs = baseline[img[part]] + a[part].view(-1, 1, 1, 1) * span[img[part]]
            grad, logits = input_gradients(model, inputs, classes[img[part]])  # (B, T, C, H, W), (B, classes)
            score = logits.gather(1, classes[img[part]]).double().cpu().numpy()  # (B, T)
            slope = (grad * span[img[part]].unsqueeze(1)).flatten(2).sum(2).double().cpu().numpy()  # (B, T)
            j = np.asarray(image[part])
            slot = used[j] + _rank_within(j)  # the next free slots of each image (an image may repeat)
            grads[torch.as_tensor(j, device=span.device), torch.as_tensor(slot, device=span.device)] = grad
            alphas[j, slot], f[j, slot], d[j, slot] = alpha[part], score, slope
            np.add.at(used, j, 1)
            bar.advance(len(image[part]))

    jump_cache: dict[tuple[int, int, int], float] = {}

    def jumps(j: int, left: int, right: int) -> float:
        """sum_i |span_i (g_i(right) - g_i(left))| over pixels and targets, once per interval."""
        key = (j, left, right)
        if key not in jump_cache:
            jump_cache[key] = ((grads[j, right] - grads[j, left]).abs() * span[j].abs()).sum().item()
        return jump_cache[key]

    grid = np.linspace(0.0, 1.0, initial)
    evaluate([j for j in range(g) for _ in grid], [float(a) for _ in range(g) for a in grid])
    while True:
        image, alpha = [], []
        for j in range(g):
            budget = steps - used[j]
            if budget <= 0 or stopped[j]:
                continue
            order = np.argsort(alphas[j, :used[j]])
            a, fj, dj = alphas[j, order], f[j, order], d[j, order]
            # Known trapezoid error of each interval's completeness, summed over targets ...
            width = (a[1:] - a[:-1])[:, None]
            error = np.abs(width / 2 * (dj[1:] + dj[:-1]) - (fj[1:] - fj[:-1])).sum(1)
            scale = np.abs(fj[-1]).sum() + np.abs(fj[0]).sum() + 1e-12
            if error.max() <= 1e-6 * scale:  # the trapezoid is exact on every interval (up to rounding)
                stopped[j] = True
                continue
            if indicator == "sum+jump":
                # ... plus a bound on its per-pixel error: for a piecewise-constant integrand the
                # trapezoid misses at most h/2 |span_i (g_i(b) - g_i(a))| on pixel i.
                error = error + np.array([jumps(j, left, right) for left, right in zip(order[:-1], order[1:],
                                                                                      strict=True)]) * width[:, 0] / 2
            worst = np.argsort(-error)[:min(per_round, budget)]
            image += [j] * len(worst)
            alpha += [float((a[w] + a[w + 1]) / 2) for w in worst]
        if not image:
            break
        evaluate(image, alpha)
    for j in range(g):
        order = np.argsort(alphas[j, :used[j]])
        a = alphas[j, order]
        # Composite trapezoid weights of the sorted nodes: (a[i+1] - a[i-1]) / 2, halves at the ends.
        weights = np.zeros(len(a))
        weights[:-1] += np.diff(a) / 2
        weights[1:] += np.diff(a) / 2
        w = torch.as_tensor(weights, device=span.device, dtype=span.dtype)
        total[rows[j]] = torch.einsum("s,s...->...", w, grads[j, torch.as_tensor(order, device=span.device)])
    bar.advance(int((steps - used).sum()))  # passes saved by stopping early
    return int(used.sum())


def _rank_within(values: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries hold the same value: [3, 3, 5, 3] -> [0, 1, 0, 2]."""
    rank = np.zeros(len(values), dtype=int)
    seen: dict[int, int] = {}
    for i, v in enumerate(values.tolist()):
        rank[i] = seen.get(v, 0)
        seen[v] = rank[i] + 1
    return rank
