"""Choosing between equivalent ways to evaluate a sweep by their measured cost.

Occlusion can run each batch of occluded images the plain way (a full forward per square) or
incrementally (the first layers on a crop only, `occlusion_incremental`), and the plain way with
channels-last or contiguous batches. All give the same logits (the plan is checked first), but which
is faster depends on the model, the image size, the crop, the batch size and the machine, more than a
multiply-accumulate count predicts. So the sweep's first batches take turns on the paths,
each batch timed per square; after `PILOT` batches of each (the first of a
path includes its warm-up, so the faster of its pilot batches counts), the faster path runs the rest.
Nothing is wasted: the pilot batches are real batches of the sweep. A sweep too short to amortise the
pilot (fewer than `MIN_BATCHES` batches) keeps the first path given.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

PILOT = 2        # timed batches per path
MIN_BATCHES = 6  # below this many batches in the sweep, no race: the first path runs throughout

Evaluate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Race:
    """An `Evaluate` for `perturb_and_evaluate` that races `paths` (name -> evaluate) on the first batches."""

    def __init__(self, paths: dict[str, Evaluate], batches: int) -> None:
        self.paths = paths
        self.seconds: dict[str, list[float]] = {name: [] for name in paths}
        self.winner: str | None = next(iter(paths)) if batches < MIN_BATCHES or len(paths) == 1 else None

    def __call__(self, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        if self.winner is not None:
            return self.paths[self.winner](sample, which)
        name = min(self.seconds, key=lambda key: len(self.seconds[key]))  # round robin over the paths
        start = time.perf_counter()
        logits = self.paths[name](sample, which)
        self.seconds[name].append((time.perf_counter() - start) / max(1, len(sample)))
        if all(len(times) >= PILOT for times in self.seconds.values()):
            self.winner = min(self.seconds, key=lambda key: min(self.seconds[key]))
        return logits

    def report(self) -> dict:
        """The path that ran the sweep and the pilot's seconds per square (JSON-safe)."""
        return {"path": self.winner, "pilot_seconds_per_square": {k: list(v) for k, v in self.seconds.items()}}
