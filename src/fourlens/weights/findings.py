"""Turn a `WeightComparison` into ranked `Finding`s (lens "representation").

Severity scales (README "How findings are ranked"):
- NaN/Inf in the candidate's weights: 1.0; a model with non-finite weights produces garbage.
- the embedding / LM-head matrices resized along their vocabulary rows only: a tokenizer change, 1.0
  (kind `representation.tokenizer_change`; every token id may mean something else now);
- tensors missing from the candidate, or with another shape: 1.0; the candidate no longer loads into
  the baseline's architecture. Tensors only in the candidate: 0.3 (new buffers or heads; check them).
- dtype changes: 0.3 (precision or range changed, e.g. a bf16 -> fp16 export can overflow).
- an outlier layer: min(1, log10(its relative change / the median layer's)), i.e. a layer that moved
  10x more than the typical layer is 1.0. Outliers are layers whose log relative change lies more
  than `outlier_z` robust sigmas (median absolute deviation x 1.4826) above the median (5+ layers)
  and that moved at least `outlier_ratio` (3) times more than the median layer.
- norm blow-up or collapse: min(1, |log2(norm_b / norm_a)| / 3) for the worst tensor whose norm
  changed by more than `norm_ratio` x (8x is 1.0).
- unchanged layers while the others moved (frozen, or not saved): 0.3.
The overall change ||b - a|| / ||a|| of all paired weights is context, not a finding (two checkpoints
of one run always differ): it is in the comparison's summary and the layer figure.
Confidence: 1.0 for what is counted or measured exactly (NaN/Inf, structure, dtypes, norms: the
comparison reads every element, there is no sampling error); for outlier layers, 1 - the
Bonferroni-corrected one-sided normal tail of the robust z over the number of layers (the null: every
layer's log relative change comes from one robust normal, the median layer's).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from fourlens.report import Finding, saturating

if TYPE_CHECKING:
    from fourlens.weights.comparison_view import WeightComparisonView as WeightComparison

LENS = "representation"
MIN_LAYERS_FOR_OUTLIERS = 5
MAX_LISTED = 10


def comparison_findings(result: WeightComparison, outlier_z: float = 3.5, outlier_ratio: float = 3.0,
                        norm_ratio: float = 2.0) -> list[Finding]:
    """Findings for one comparison, baseline = a, candidate = b."""
    return [*_nonfinite(result), *_tokenizer(result), *_structure(result), *_dtypes(result),
            *_outlier_layers(result, outlier_z, outlier_ratio), *_norm_changes(result, norm_ratio),
            *_unchanged(result)]


VOCAB_TENSORS = re.compile(r"(embed|wte|tok_embeddings|word_embeddings|lm_head|embed_out|output\.weight$|"
                           r"shared\.weight$|unembed)", re.IGNORECASE)
BLOCK = r"(?:^|\.)\d+$"
OBSERVED = "observed: every element of both checkpoints is read; nothing is estimated"


def _vocab_resized(result: WeightComparison):
    """Shape mismatches that are an embedding or LM head whose rows (the vocabulary) changed alone."""
    rows = []
    for r in result.shape_mismatches.itertuples():
        a, b = list(r.shape), list(r.shape_b)
        if len(a) == 2 and len(b) == 2 and a[1] == b[1] and a[0] != b[0] and VOCAB_TENSORS.search(r.name):
            rows.append({"name": r.name, "shape_a": a, "shape_b": b})
    return rows


def _tokenizer(result: WeightComparison) -> list[Finding]:
    resized = _vocab_resized(result)
    if not resized:
        return []
    sizes = sorted({(r["shape_a"][0], r["shape_b"][0]) for r in resized})
    change = ", ".join(f"{a:,} -> {b:,}" for a, b in sizes)
    names = ", ".join(r["name"] for r in resized[:3])
    return [Finding(
        lens=LENS, severity=1.0, confidence=1.0,
        title=f"tokenizer changed: vocabulary {change} rows in {names} (embedding and LM head resized)",
        evidence={"tensors": resized, "vocab_sizes": [list(s) for s in sizes], "null": OBSERVED},
        next_check="compare the two tokenizer.json files and the config's vocab_size; token ids, losses per token "
                   "and eval prompts are not comparable across tokenizers",
        kind="representation.tokenizer_change", subject="vocab",
    )]


def _names(frame, column: str = "name") -> list[str]:
    return frame[column].head(MAX_LISTED).tolist()


def _nonfinite(result: WeightComparison) -> list[Finding]:
    bad = result.table[result.table["nonfinite_b"] > 0]
    if bad.empty:
        return []
    bad = bad.sort_values("nonfinite_b", ascending=False, kind="stable")
    count = int(bad["nonfinite_b"].sum())
    in_baseline = int(result.table["nonfinite_a"].sum())
    # the same tensors broken in the baseline: not what changed in the candidate
    shared = bool((bad["nonfinite_a"] > 0).all())
    return [Finding(status="shared" if shared else "ranked",
        lens=LENS, severity=1.0, confidence=1.0,
        title=(f"{count:,} NaN/Inf weight value(s) in {len(bad)} tensor(s) of the candidate "
               f"(worst: {bad['name'].iloc[0]}); the baseline has {in_baseline:,}"),
        evidence={"null": OBSERVED, "nonfinite_b": count, "nonfinite_a": in_baseline, "n_tensors": len(bad),
                  "tensors": bad[["name", "layer", "nonfinite_b", "numel"]].head(MAX_LISTED).to_dict("records")},
        next_check=(f"find the first checkpoint where {bad['name'].iloc[0]} turns non-finite and the training "
                    "step before it (loss scale, learning rate, a bad batch)"),
        kind="representation.weights_nonfinite", subject=str(bad["layer"].iloc[0]),
    )]


def _structure(result: WeightComparison) -> list[Finding]:
    findings = []
    resized = {r["name"] for r in _vocab_resized(result)}
    missing, mismatched = result.missing, result.shape_mismatches
    mismatched = mismatched[~mismatched["name"].isin(resized)]
    if missing or len(mismatched):
        shapes = [{"name": r.name, "shape_a": list(r.shape), "shape_b": list(r.shape_b)}
                  for r in mismatched.head(MAX_LISTED).itertuples()]
        parts = ([f"{len(missing)} tensor(s) missing"] if missing else []) + (
            [f"{len(mismatched)} with another shape"] if len(mismatched) else [])
        example = missing[0] if missing else shapes[0]["name"]
        findings.append(Finding(
            lens=LENS, severity=1.0, confidence=1.0,
            title=f"candidate weights differ in structure: {' and '.join(parts)} (e.g. {example})",
            evidence={"null": OBSERVED, "missing_in_b": missing[:MAX_LISTED], "n_missing_in_b": len(missing),
                      "shape_mismatches": shapes, "n_shape_mismatches": len(mismatched)},
            next_check="check that the candidate was saved from the same architecture and config (vocab size, "
                       "hidden size, tied embeddings) and that no shard is missing",
            kind="representation.weights_structure", subject=str(example),
        ))
    extra = result.extra
    if extra:
        findings.append(Finding(
            lens=LENS, severity=0.3, confidence=1.0,
            title=f"{len(extra)} tensor(s) only in the candidate (e.g. {extra[0]})",
            evidence={"null": OBSERVED, "extra_in_b": extra[:MAX_LISTED], "n_extra_in_b": len(extra)},
            next_check="check whether the new tensors are intended (new head, adapter, buffer) or leftovers "
                       "such as optimizer state saved into the weights",
            kind="representation.weights_structure", subject=str(extra[0]),
        ))
    return findings


def _dtypes(result: WeightComparison) -> list[Finding]:
    changed = result.dtype_changes
    if changed.empty:
        return []
    pairs = changed.groupby(["dtype", "dtype_b"]).size().sort_values(ascending=False)
    described = ", ".join(f"{n} {a} -> {b}" for (a, b), n in pairs.items())
    return [Finding(
        lens=LENS, severity=0.3, confidence=1.0,
        title=f"{len(changed)} tensor(s) changed dtype ({described})",
        evidence={"null": OBSERVED,
                  "changes": [{"dtype_a": a, "dtype_b": b, "n": int(n)} for (a, b), n in pairs.items()],
                  "tensors": _names(changed)},
        next_check="check the export or conversion step; fp16 overflows where bf16 did not, and fp8 needs scales",
        kind="representation.weights_structure", subject="dtype",
    )]


def _outlier_layers(result: WeightComparison, outlier_z: float, outlier_ratio: float) -> list[Finding]:
    layers = result.layers
    changes = layers["rel_change"].to_numpy(dtype=float)
    usable = np.isfinite(changes) & (changes > 0)
    # Repeated blocks (model.layers.7, transformer.h.3) share one structure and one optimizer regime, so
    # they are each other's null; embeddings, heads and final norms move differently by design (sparse
    # rows, tied weights) and are left out of the comparison when there are enough blocks.
    blocks = layers["layer"].astype(str).str.contains(BLOCK).to_numpy()
    if (usable & blocks).sum() >= MIN_LAYERS_FOR_OUTLIERS:
        usable &= blocks
    if usable.sum() < MIN_LAYERS_FOR_OUTLIERS:
        return []
    logs = np.log(changes[usable])
    median = float(np.median(logs))
    sigma = 1.4826 * float(np.median(np.abs(logs - median)))
    if sigma <= 0:
        return []
    names = layers["layer"].to_numpy()[usable]
    findings = []
    for name, value in zip(names, logs, strict=True):
        z = (value - median) / sigma
        ratio = math.exp(value - median)
        # Both: a robust z alone flags 2x differences when every layer moved alike (tiny MAD), and
        # layers of a healthy run routinely differ by 2x (embeddings vs blocks).
        if z < outlier_z or ratio < outlier_ratio:
            continue
        confidence = 1.0 - min(1.0, len(logs) * float(stats.norm.sf(z)))
        change = math.exp(value)
        findings.append(Finding(
            lens=LENS, severity=saturating(math.log10(ratio), 1.0), confidence=confidence,
            title=(f"layer {name} changed {ratio:.1f}x more than the median layer (relative change "
                   f"{change:.3g} vs {math.exp(median):.3g}; {z:.1f} robust sigma)"),
            evidence={"null": "every layer's log relative change is drawn like the others' (median, 1.4826 x MAD; "
                              "Bonferroni over the layers)",
                      "layer": name, "rel_change": change, "median_rel_change": math.exp(median), "ratio": ratio,
                      "robust_z": z, "n_layers": len(logs),
                      "tensors": result.table[result.table["layer"] == name].sort_values(
                          "rel_change", ascending=False)[["name", "rel_change", "norm_a", "norm_b"]]
                      .head(MAX_LISTED).to_dict("records")},
            next_check=(f"look at the tensors of {name} (largest change first) and at the gradient norm of that "
                        "layer during training; check for a frozen/unfrozen switch or a per-layer LR"),
            kind="representation.weights_layer_outlier", subject=str(name),
        ))
    return findings


def _norm_changes(result: WeightComparison, norm_ratio: float) -> list[Finding]:
    paired = result.paired
    paired = paired[(paired["norm_a"] > 0) & (paired["norm_b"] > 0)]
    if paired.empty:
        return []
    log_ratio = np.log2(paired["norm_b"].to_numpy(float) / paired["norm_a"].to_numpy(float))
    flagged = paired.assign(log2_ratio=log_ratio)[np.abs(log_ratio) > math.log2(norm_ratio)]
    if flagged.empty:
        return []
    flagged = flagged.reindex(flagged["log2_ratio"].abs().sort_values(ascending=False).index)
    worst = flagged.iloc[0]
    factor = 2.0 ** float(worst["log2_ratio"])
    direction = "grew" if factor > 1 else "shrank"
    return [Finding(
        lens=LENS, severity=saturating(abs(float(worst["log2_ratio"])), 3.0), confidence=1.0,
        title=(f"weight norm {direction} {max(factor, 1 / factor):.1f}x in {worst['name']}"
               + (f" and {len(flagged) - 1} more tensor(s) by over {norm_ratio:g}x" if len(flagged) > 1 else "")),
        evidence={"null": OBSERVED, "norm_ratio_threshold": norm_ratio, "n_tensors": len(flagged),
                  "tensors": flagged[["name", "norm_a", "norm_b", "log2_ratio"]].head(MAX_LISTED).to_dict("records")},
        next_check="check weight decay and the learning rate for these parameters, and look for a loss or "
                   "grad-norm spike where their norm jumped",
        kind="representation.weights_norm", subject=str(worst["name"]),
    )]


def _unchanged(result: WeightComparison) -> list[Finding]:
    layers = result.layers
    changes = layers["rel_change"].to_numpy(dtype=float)
    moved = np.isfinite(changes) & (changes > 0)
    frozen = layers[(changes == 0) & (layers["numel"] > 0)]
    if frozen.empty or not moved.any():
        return []
    return [Finding(
        lens=LENS, severity=0.3, confidence=1.0,
        title=(f"{len(frozen)} layer(s) are bit-identical in both checkpoints while {int(moved.sum())} "
               f"changed (e.g. {frozen['layer'].iloc[0]})"),
        evidence={"null": OBSERVED, "unchanged_layers": _names(frozen, "layer"), "n_unchanged": len(frozen),
                  "n_changed": int(moved.sum())},
        next_check="check whether these layers were frozen on purpose, or whether the candidate was saved "
                   "before the optimizer touched them (a stale or partial save)",
        kind="representation.weights_layer_outlier", subject=str(frozen["layer"].iloc[0]),
    )]
