"""Behavior lens: item-level eval results compared with paired statistics, safety, agent latency."""

from fourlens.behavior.compare import Comparison, compare, paired_stats
from fourlens.behavior.evals import EvalResults, load_evals
from fourlens.behavior.flips import flip_groups
from fourlens.behavior.intervals import (
    minimum_detectable_effect,
    newcombe_paired_interval,
    paired_se,
    wilson_interval,
)
from fourlens.behavior.latency import LatencyComparison, compare_latency
from fourlens.behavior.safety import safety_table
from fourlens.behavior.stats import (
    benjamini_hochberg,
    bootstrap_pvalue,
    mcnemar_exact,
    paired_bootstrap,
    paired_interval,
    paired_permutation_pvalue,
)
from fourlens.behavior.traces import Traces, load_traces
from fourlens.behavior.trend import trend

__all__ = ["Comparison", "EvalResults", "LatencyComparison", "Traces", "benjamini_hochberg", "bootstrap_pvalue",
           "compare", "compare_latency", "flip_groups", "load_evals", "load_traces", "mcnemar_exact",
           "minimum_detectable_effect", "newcombe_paired_interval", "paired_bootstrap", "paired_interval",
           "paired_permutation_pvalue", "paired_se", "paired_stats", "safety_table", "trend", "wilson_interval"]
