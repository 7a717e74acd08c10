"""Findings from a checkpoint comparison (representation lens).

- representation drift: a layer's linear CKA < 0.9. Severity min(1, (1 - CKA) / 0.5); confidence: the
  share of 200 bootstrap resamples of the probe texts in which that layer's CKA stays < 0.9.
- induction head weakened: a head with induction >= 0.3 in the baseline loses >= 0.1. Severity
  min(1, drop / 0.5); confidence 1 - Bonferroni-corrected Wilcoxon signed-rank p over the paired probe
  sequences.
- attention entropy shift: a head's mean entropy moves >= 0.5 nats. Severity min(1, shift / 2 nats);
  confidence 1 - Bonferroni-corrected Wilcoxon p over the paired probe texts.
- norm growth: a layer's mean residual norm grows >= 1.5x. Severity min(1, log2(ratio) / 2); confidence
  1 - Wilcoxon p over the paired tokens.
- massive activations: max/median |activation| >= 100 in the candidate and < 100 in the baseline
  (Sun et al. 2024, "Massive Activations in Large Language Models": a few dimensions at a few tokens,
  orders of magnitude above the median). Severity 0.5; confidence 1 (observed). The evidence names the
  dimensions and the (text, position) of the largest ones.
- dead MLP units: the share of units never positive on the probe rises >= 5 points. Severity
  min(1, rise / 20 points); confidence 1 - two-proportion z-test p. The evidence lists the units that
  fired on the probe in the baseline and never in the candidate.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import stats

from fourlens.report import Finding, saturating
from fourlens.transformer.cka import linear_cka

if TYPE_CHECKING:
    from fourlens.transformer.comparison_view import CheckpointComparisonView as CheckpointComparison

CKA_THRESHOLD = 0.9
INDUCTION_PRESENT, INDUCTION_DROP = 0.3, 0.1
ENTROPY_SHIFT = 0.5
NORM_RATIO = 1.5
MASSIVE_RATIO = 100.0
DEAD_RISE = 0.05
BOOTSTRAP = 200
MAX_LISTED = 200  # units or activations named in a finding's evidence
KIND = "representation.transformer_change"


def _wilcoxon_p(differences: np.ndarray) -> float:
    differences = differences[np.abs(differences) > 1e-12]
    if len(differences) < 2:
        return 1.0
    return float(stats.wilcoxon(differences).pvalue)


def _bootstrap_below(comparison: CheckpointComparison, index: int, seed: int = 0) -> float:
    s = comparison.samples
    ha, hb, owner, n = s["hidden_a"][index].cpu(), s["hidden_b"][index].cpu(), s["token_text"], s["n_texts"]
    rng = np.random.default_rng(seed)
    tokens_of = [(owner == t).nonzero().flatten() for t in range(n)]  # each text's rows
    below = 0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # matrices of a few dozen rows: OpenMP hand-offs cost more than they save
    try:
        for _ in range(BOOTSTRAP):
            rows = torch.cat([tokens_of[t] for t in rng.integers(0, n, n).tolist()])
            try:
                below += linear_cka(ha[rows], hb[rows]) < CKA_THRESHOLD
            except ValueError:  # a resample of constant rows: CKA undefined, counts as not below
                continue
    finally:
        torch.set_num_threads(threads)
    return below / BOOTSTRAP


def comparison_findings(comparison: CheckpointComparison) -> list[Finding]:
    findings: list[Finding] = []
    layers, heads, s = comparison.layers, comparison.heads, comparison.samples
    drifted = layers[layers.cka < CKA_THRESHOLD]
    if len(drifted):
        worst = drifted.loc[drifted.cka.idxmin()]
        index = int(worst.name)
        findings.append(Finding(
            "representation", f"{worst.layer}: hidden states diverged (linear CKA {worst.cka:.2f} between checkpoints)",
            saturating(1 - worst.cka, 0.5), _bootstrap_below(comparison, index),
            {"cka_per_layer": layers[["layer", "cka"]].round(4).to_dict(orient="records")},
            f"compare the attention of {worst.layer} on the probe texts (fourlens transformer attention) and "
            "its heads' scores; CKA drops from here on point at where the candidate changed",
            kind=KIND, subject=str(worst.layer)))
    tests = len(heads)
    weakened = heads[(heads.induction_a >= INDUCTION_PRESENT) & (-heads.induction_change >= INDUCTION_DROP)]
    for row in weakened.itertuples():
        diffs = (s["scores_b"][:, row.layer, row.head, 1] - s["scores_a"][:, row.layer, row.head, 1]).numpy()
        p = min(1.0, _wilcoxon_p(diffs) * tests)
        findings.append(Finding(
            "representation", f"induction head L{row.layer}H{row.head} weakened: induction score "
                              f"{row.induction_a:.2f} -> {row.induction_b:.2f}",
            saturating(-row.induction_change, 0.5), 1 - p,
            {"layer": row.layer, "head": row.head, "induction_a": row.induction_a, "induction_b": row.induction_b,
             "previous_token_a": row.previous_token_a, "previous_token_b": row.previous_token_b},
            "check in-context copying (repeated names, code identifiers) on the candidate; run "
            "fourlens transformer heads on both checkpoints and ablate this head",
            kind=KIND, subject=f"L{row.layer}H{row.head}"))
    shifted = heads[heads.entropy_shift.abs() >= ENTROPY_SHIFT]
    for row in shifted.itertuples():
        diffs = (s["entropy_b"][:, row.layer, row.head] - s["entropy_a"][:, row.layer, row.head]).numpy()
        p = min(1.0, _wilcoxon_p(diffs) * tests)
        direction = "more diffuse" if row.entropy_shift > 0 else "sharper"
        findings.append(Finding(
            "representation", f"head L{row.layer}H{row.head} attends {direction}: entropy "
                              f"{row.entropy_a:.2f} -> {row.entropy_b:.2f} nats",
            saturating(row.entropy_shift, 2.0), 1 - p,
            {"layer": row.layer, "head": row.head, "entropy_a": row.entropy_a, "entropy_b": row.entropy_b},
            "view this head on the probe texts in both checkpoints (fourlens transformer attention)",
            kind=KIND, subject=f"L{row.layer}H{row.head}"))
    for index, row in layers.iterrows():
        ratio = row.norm_b / max(row.norm_a, 1e-12)
        if ratio >= NORM_RATIO:
            a = s["hidden_a"][index].norm(dim=-1).cpu().numpy()
            b = s["hidden_b"][index].norm(dim=-1).cpu().numpy()
            findings.append(Finding(
                "representation",
                f"{row.layer}: residual norm grew {ratio:.1f}x ({row.norm_a:.1f} -> {row.norm_b:.1f})",
                saturating(math.log2(ratio), 2.0), 1 - _wilcoxon_p(b - a),
                {"layer": row.layer, "norm_a": row.norm_a, "norm_b": row.norm_b},
                "look for growing weight norms in this layer (fourlens weights compare) and the learning-rate "
                "and weight-decay settings", kind=KIND, subject=str(row.layer)))
        if row.massive_b >= MASSIVE_RATIO > row.massive_a:
            where = _massive_where(s["hidden_b"][index].cpu(), s["token_text"])
            findings.append(Finding(
                "representation", f"{row.layer}: massive activations appeared (max/median {row.massive_b:.0f}, "
                                  f"was {row.massive_a:.0f}) in dimension(s) "
                                  f"{', '.join(str(d) for d in where['dims'][:3])}",
                0.5, 1.0, {"layer": row.layer, "massive_a": row.massive_a, "massive_b": row.massive_b, **where},
                "look at the tokens that carry them (evidence: text and position); they often act as attention "
                "sinks (Sun et al. 2024); compare this layer's weights (fourlens weights compare)",
                kind=KIND, subject=str(row.layer)))
        if not math.isnan(row.dead_b) and row.dead_b - row.dead_a >= DEAD_RISE:
            p = _two_proportion_p(row.dead_a, row.dead_b, s["mlp_width"][index])
            max_a, max_b = s["mlp_max"][index]
            units = ((max_b <= 0) & (max_a > 0)).nonzero().flatten().tolist()  # alive before, dead now
            findings.append(Finding(
                "representation", f"{row.layer}: dead MLP units {row.dead_a:.0%} -> {row.dead_b:.0%} "
                                  f"({len(units)} units stopped firing on the probe)",
                saturating(row.dead_b - row.dead_a, 0.2), 1 - p,
                {"layer": row.layer, "dead_a": row.dead_a, "dead_b": row.dead_b, "newly_dead": len(units),
                 "newly_dead_units": units[:MAX_LISTED], "units_listed": min(len(units), MAX_LISTED)},
                "check this layer's learning rate and initialisation; dead units never recover without intervention",
                kind=KIND, subject=str(row.layer)))
    return findings


def _massive_where(hidden: torch.Tensor, token_text: torch.Tensor) -> dict:
    """Where the activations >= MASSIVE_RATIO x the median magnitude sit: their dimensions (largest
    first), how many there are, and the (text, position) of the largest ones. hidden: (tokens, d_model)."""
    magnitude = hidden.abs()
    massive = magnitude >= MASSIVE_RATIO * magnitude.median().clamp_min(1e-12)
    tokens, dims = massive.nonzero(as_tuple=True)
    order = magnitude[tokens, dims].argsort(descending=True)
    tokens, dims = tokens[order], dims[order]
    first = torch.searchsorted(token_text, token_text.clone())  # (tokens,) index of each text's first token
    top = [{"text": int(token_text[t]), "position": int(t - first[t]), "dim": int(d),
            "value": round(float(hidden[t, d]), 3)} for t, d in zip(tokens[:10].tolist(), dims[:10].tolist(),
                                                                  strict=True)]
    return {"dims": list(dict.fromkeys(dims.tolist()))[:MAX_LISTED], "n_massive": int(massive.sum()),
            "largest": top}


def _two_proportion_p(p1: float, p2: float, n: int) -> float:
    pooled = (p1 + p2) / 2
    se = math.sqrt(max(pooled * (1 - pooled) * 2 / n, 1e-12))
    return float(2 * stats.norm.sf(abs(p2 - p1) / se))
