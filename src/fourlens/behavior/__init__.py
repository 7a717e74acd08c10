"""Behavior lens: item-level eval results compared with paired statistics, safety, agent latency."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".compare": ("Comparison", "compare", "paired_stats"),
    ".evals": ("EvalResults", "load_evals"),
    ".flips": ("flip_groups",),
    ".intervals": ("minimum_detectable_effect", "paired_se", "sign_flip_interval", "symmetric_bootstrap_interval",
                   "tango_paired_interval", "wilson_interval"),
    ".latency": ("LatencyComparison", "compare_latency"),
    ".safety": ("safety_table",),
    ".stats": ("benjamini_hochberg", "bootstrap_pvalue", "mcnemar_exact", "mcnemar_score", "paired_bootstrap",
               "paired_interval", "paired_permutation_pvalue"),
    ".traces": ("Traces", "load_traces"),
    ".trend": ("trend",),
})
