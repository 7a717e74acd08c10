"""The weights lens in triage: compare the two bundles' checkpoints tensor by tensor.

Bundle options (`[options.weights]` in the candidate's fourlens.toml): `trust_pickle` (default
false), `layer_pattern` (a regex whose first group names the layer), `outlier_z` (3.5),
`outlier_ratio` (3.0) and `norm_ratio` (2.0). Severity and confidence: see `fourlens.weights.findings`.
"""

from __future__ import annotations

from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis
from fourlens.weights.compare import compare
from fourlens.weights.figures import layer_bar, layer_heatmap


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    options = candidate.lens_options("weights")
    result = compare(baseline.paths("weights"), candidate.paths("weights"),
                     trust_pickle=bool(options.get("trust_pickle", False)),
                     layer_pattern=options.get("layer_pattern"))
    thresholds = {key: float(options[key]) for key in ("outlier_z", "outlier_ratio", "norm_ratio") if key in options}
    findings = result.findings(**thresholds)
    figures = [layer_bar(result, baseline.name, candidate.name)]
    heatmap = layer_heatmap(result, baseline.name, candidate.name)
    if heatmap is not None:
        figures.append(heatmap)
    return Diagnosis(findings=findings, figures=figures)
