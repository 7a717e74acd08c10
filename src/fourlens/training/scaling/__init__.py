"""Scaling laws: Chinchilla approach 3 L(N, D), the compute frontier L(C), checkpoint predictions."""

from fourlens.training.scaling.chinchilla import ChinchillaFit, fit_chinchilla
from fourlens.training.scaling.compute import ComputeLawFit, fit_compute_law, frontier
from fourlens.training.scaling.runs import checkpoint_finding, load_scaling_runs

__all__ = ["ChinchillaFit", "ComputeLawFit", "checkpoint_finding", "fit_chinchilla", "fit_compute_law",
           "frontier", "load_scaling_runs"]
