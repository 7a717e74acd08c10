"""Which class score(s) each attribution explains.

`target` is one class per image: an int (same class for all), a list/tensor of per-sample ints, or
"top1" (the model's own prediction). `targets=[3, 7, 9]` asks for several classes per image; the
methods then share one forward pass across them where they can. Internally every method works on a
(n, T) int64 tensor on the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Target = int | str | Sequence[int] | torch.Tensor


def resolve_targets(target: Target | None, targets: Sequence[int] | torch.Tensor | None, n: int,
                    n_classes: int | None, device: torch.device,
                    logits: torch.Tensor | None = None) -> torch.Tensor:
    """The (n, T) int64 class indices; `logits` (n, classes) are needed only for "top1"."""
    if targets is not None:
        if target not in (None, "top1"):
            raise ValueError("give either target= (one class per image) or targets= (several classes for "
                             f"every image), not both; got target={target!r} and targets={targets!r}")
        chosen = torch.as_tensor(targets, dtype=torch.int64, device=device)
        if chosen.ndim == 1:
            chosen = chosen.unsqueeze(0).expand(n, -1)  # the same classes for every image: (n, T)
        if chosen.ndim != 2 or chosen.shape[0] != n or chosen.shape[1] == 0:
            raise ValueError(f"targets must be a non-empty list of class indices (T,) or a tensor (n={n}, T); "
                             f"got shape {tuple(chosen.shape)}")
    elif target is None or (isinstance(target, str) and target == "top1"):
        if logits is None:
            raise ValueError("target='top1' needs the model's logits")
        chosen = logits.argmax(dim=1, keepdim=True)  # (n, 1)
    elif isinstance(target, str):
        raise ValueError(f"target must be an int, a list of per-image ints, a tensor or 'top1'; got {target!r}")
    elif isinstance(target, bool):
        raise TypeError("target must be an int class index, not a bool")
    elif isinstance(target, int):
        chosen = torch.full((n, 1), target, dtype=torch.int64, device=device)
    else:
        chosen = torch.as_tensor(target, device=device)
        if chosen.is_floating_point() or chosen.dtype == torch.bool:
            raise TypeError(f"target must hold integer class indices; got dtype {chosen.dtype}")
        chosen = chosen.to(torch.int64)
        if chosen.ndim == 0:
            chosen = chosen.expand(n)
        if chosen.shape != (n,):
            raise ValueError(f"a per-image target needs one class per image: shape ({n},); got "
                             f"{tuple(chosen.shape)} (for several classes per image pass targets=[...])")
        chosen = chosen.unsqueeze(1)  # (n, 1)
    if n_classes is not None and (chosen.min() < 0 or chosen.max() >= n_classes):
        raise ValueError(f"target class indices must lie in [0, {n_classes}); got "
                         f"{chosen.min().item()}..{chosen.max().item()}")
    return chosen


def needs_logits(target: Target | None, targets: Sequence[int] | torch.Tensor | None) -> bool:
    return targets is None and (target is None or (isinstance(target, str) and target == "top1"))
