"""Scaling laws: Chinchilla approach 3 L(N, D), the compute frontier L(C), checkpoint predictions."""

from fourlens.training.scaling.checkpoint import (
    CheckpointJudgement,
    checkpoint_finding,
    checkpoint_loss,
    judge_checkpoint,
)
from fourlens.training.scaling.chinchilla import ChinchillaFit, fit_chinchilla
from fourlens.training.scaling.compute import ComputeLawFit, fit_compute_law, frontier
from fourlens.training.scaling.runs import load_scaling_runs

__all__ = ["CheckpointJudgement", "ChinchillaFit", "ComputeLawFit", "checkpoint_finding", "checkpoint_loss",
           "fit_chinchilla", "fit_compute_law", "frontier", "judge_checkpoint", "load_scaling_runs"]
