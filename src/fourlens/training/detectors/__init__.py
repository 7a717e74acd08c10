"""Anomaly detectors, one concern per module; each returns a list of `Anomaly`."""

from fourlens.training.detectors.base import KINDS, Anomaly

__all__ = ["KINDS", "Anomaly"]
