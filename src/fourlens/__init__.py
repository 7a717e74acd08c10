"""fourlens: what's going on inside my model? Four lenses (behavior, training, representation, data)
on a baseline and a candidate checkpoint, and a ranked list of what to check first."""

from fourlens._version import __version__
from fourlens.errors import BadInputError, FourlensError, MissingDependencyError
from fourlens.report import Figure, Finding, LensStatus, Report

__all__ = ["BadInputError", "Figure", "Finding", "FourlensError", "LensStatus", "MissingDependencyError",
           "Report", "__version__"]
