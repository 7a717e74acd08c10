"""Quality metrics for attribution maps: deletion/insertion, ROAD, faithfulness correlation, infidelity,
max-sensitivity, pointing game, randomization sanity check."""

from fourlens.vision.metrics.deletion import DeletionInsertion, deletion_insertion, gaussian_blur
from fourlens.vision.metrics.faithfulness import FaithfulnessCorrelation, faithfulness_correlation, pearson
from fourlens.vision.metrics.pointing_game import PointingGame, pointing_game
from fourlens.vision.metrics.randomization import RandomizationCheck, cascading_randomization, spearman
from fourlens.vision.metrics.road import Road, linear_imputation, road
from fourlens.vision.metrics.robustness import Infidelity, Sensitivity, infidelity, max_sensitivity

__all__ = ["DeletionInsertion", "FaithfulnessCorrelation", "Infidelity", "PointingGame", "RandomizationCheck", "Road",
           "Sensitivity", "cascading_randomization", "deletion_insertion", "faithfulness_correlation", "gaussian_blur",
           "infidelity", "linear_imputation", "max_sensitivity", "pearson", "pointing_game", "road", "spearman"]
