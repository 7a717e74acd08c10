"""Quality metrics for attribution maps: deletion/insertion, pointing game, randomization sanity check."""

from fourlens.vision.metrics.deletion import DeletionInsertion, deletion_insertion, gaussian_blur
from fourlens.vision.metrics.pointing_game import PointingGame, pointing_game
from fourlens.vision.metrics.randomization import RandomizationCheck, cascading_randomization, spearman

__all__ = ["DeletionInsertion", "PointingGame", "RandomizationCheck", "cascading_randomization",
           "deletion_insertion", "gaussian_blur", "pointing_game", "spearman"]
