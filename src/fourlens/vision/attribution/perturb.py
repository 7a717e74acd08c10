"""The one batched perturb-and-evaluate engine behind occlusion and the deletion/insertion metrics.

Every (image, perturbation) pair is a virtual input; `batch_size` of them are built and evaluated per
forward pass under `torch.no_grad`, so memory is bounded by `batch_size`, not by the number of
perturbations, and the work is exactly one batched forward per perturbation (the floor).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.vision.attribution._common import check_logits, chunks
from fourlens.vision.attribution.layout import forward

# apply(images (B, C, H, W), sample index (B,), perturbation index (B,)) -> perturbed images (B, C, H, W)
Perturb = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# logits(sample index (B,), perturbation index (B,)) -> (B, classes): a caller's own way to the logits
Evaluate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def perturb_and_evaluate(model: nn.Module, x: torch.Tensor, n_perturbations: int, perturb: Perturb,
                         classes: torch.Tensor, batch_size: int, progress: bool = True,
                         description: str = "perturb and evaluate", evaluate: Evaluate | None = None,
                         select: torch.Tensor | None = None, bar: Bar | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and softmax probabilities of `classes` (n, T) under each perturbation: two (n, P, T) tensors.

    `evaluate`, when given, replaces "perturb the images, run the model" (incremental occlusion,
    Ablation-CAM). `select` (M,): evaluate only these flat indices (image i * P + perturbation p); the
    others are NaN, for the caller to fill (Score-CAM skips channels whose mask is empty).
    `progress`: a bar on a terminal when the run lasts more than a few seconds (`progress.Bar`);
    `bar`: advance the caller's bar instead.
    """
    n = x.shape[0]
    total = n * n_perturbations
    # Virtual input i is perturbation i % P of image i // P, so the flat results reshape to (n, P, T).
    scores = torch.full((total, classes.shape[1]), float("nan"), device=x.device, dtype=x.dtype)
    probs = torch.full_like(scores, float("nan"))
    todo = torch.arange(total, device=x.device) if select is None else select.to(x.device)
    own = bar is None
    bar = Bar(len(todo), description, progress) if own else bar
    try:
        with torch.no_grad():
            for part in chunks(len(todo), batch_size):
                flat = todo[part]
                sample, which = flat // n_perturbations, flat % n_perturbations
                if evaluate is not None:
                    logits = check_logits(evaluate(sample, which))
                else:
                    logits = check_logits(forward(model, perturb(x[sample], sample, which)))
                picked = classes[sample]  # (B, T)
                scores[flat] = logits.gather(1, picked)
                probs[flat] = logits.softmax(dim=1).gather(1, picked)
                bar.advance(len(flat))
    finally:
        if own:
            bar.close()
    return scores.view(n, n_perturbations, -1), probs.view(n, n_perturbations, -1)
