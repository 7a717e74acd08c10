"""What changed inside the documents: token classes, newlines and indentation, and the token
distribution, per corpus and per domain, each judged against the snapshots' own sampling noise
(`fourlens.data.nulls` over the profiles' random document groups).

Rows (`class_shifts`): for the whole corpus and for every domain, each token class's share of the
tokens, and newlines, indented lines and LaTeX commands per character (what a normaliser that
collapses whitespace or drops math mode removes; the words tokenizer has no whitespace tokens and
splits LaTeX into pieces), with the random-groups test of the change and a Bonferroni adjustment over
all rows.

One finding per class (newlines and indentation count as "whitespace", LaTeX commands as "math"): the
row with the largest
severity x confidence among those that moved at least 25% (relative) and 0.05 points of the corpus.
Severity: min(1, |log2 share ratio| / 2) x min(1, change / 1 point of the corpus), the change of a
domain's row counted in points of the whole corpus (its share of the corpus's tokens or characters
times the change inside it): a class stripped from a domain holding 8% of the tokens, where it was
12% of the tokens, is 12 x 0.08 = 0.96 points. Confidence: 1 - the adjusted p.
Token distribution: the JS distance over hashed token bins against its group-permutation
distribution; severity min(1, (distance - the null's mean) / 0.25), confidence 1 - p.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fourlens.data.classes import TOKEN_CLASSES
from fourlens.data.effects import CLASS_EFFECTS
from fourlens.data.groups import GroupStats
from fourlens.data.nulls import distribution_test, share_test
from fourlens.report import Finding, saturating

LAYOUT_MEASURES = {"newlines": (1, "whitespace"), "indented lines": (2, "whitespace"),
                   "LaTeX commands": (3, "math")}   # measure -> (column of GroupStats.layout, class family)
MIN_RELATIVE = 0.25
MIN_CORPUS_PP = 0.05
CLASS_LABELS = {"math": "math symbols and LaTeX", "code": "code keywords and punctuation", "digits": "digits",
                "non_latin": "non-Latin-script tokens", "whitespace": "whitespace tokens", "special": "special tokens",
                "other": "other tokens", "newlines": "newlines", "indented lines": "indented lines",
                "LaTeX commands": "LaTeX commands"}
SHARE_NULL = ("both snapshots are samples of one corpus: the share's random-groups variance over 32 groups of "
              "documents (Welch t), Bonferroni over every class, measure and domain tested")


def class_shifts(a: GroupStats, b: GroupStats) -> pd.DataFrame:
    """One row per (scope, measure): scope "all" or a domain; measure a token class or a layout measure."""
    domains = tuple(sorted(set(a.domains) | set(b.domains)))
    a, b = a.aligned(domains), b.aligned(domains)
    token_total = a.tokens.sum()
    byte_total = a.layout[:, :, 0].sum()
    rows = []
    for scope in ("all", *domains):
        index = slice(None) if scope == "all" else domains.index(scope)
        tok_a, tok_b = _scope(a.tokens, index), _scope(b.tokens, index)
        bytes_a, bytes_b = _scope(a.layout[:, :, 0], index), _scope(b.layout[:, :, 0], index)
        weight_tokens = 1.0 if scope == "all" else (tok_a.sum() / token_total if token_total else 0.0)
        weight_bytes = 1.0 if scope == "all" else (bytes_a.sum() / byte_total if byte_total else 0.0)
        for c, name in enumerate(TOKEN_CLASSES):
            test = share_test(_scope(a.classes[:, :, c], index), tok_a, _scope(b.classes[:, :, c], index), tok_b)
            rows.append({"scope": scope, "measure": name, "family": name, "unit": "tokens",
                         "weight": weight_tokens, **test})
        for name, (column, family) in LAYOUT_MEASURES.items():
            if column >= a.layout.shape[2]:
                continue
            test = share_test(_scope(a.layout[:, :, column], index), bytes_a,
                              _scope(b.layout[:, :, column], index), bytes_b)
            rows.append({"scope": scope, "measure": name, "family": family, "unit": "characters",
                         "weight": weight_bytes, **test})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = np.minimum(1.0, table["p_value"] * len(table))
    table["log2_ratio"] = [log2_ratio(x, y) for x, y in zip(table["share_a"], table["share_b"], strict=True)]
    table["corpus_pp"] = 100 * table["diff"].abs() * table["weight"]
    return table


def _scope(values: np.ndarray, index) -> np.ndarray:
    """Per-group values of one domain (index) or of all domains summed (slice(None)): (G,)."""
    return values[:, index].sum(axis=1) if isinstance(index, slice) else values[:, index]


def log2_ratio(a: float, b: float) -> float:
    """log2(b / a) of two shares; a share that appears or vanishes counts as a 4x change."""
    if not (math.isfinite(a) and math.isfinite(b)) or (a == 0 and b == 0):
        return 0.0
    if a == 0 or b == 0:
        return 2.0 if b > a else -2.0   # appeared / vanished: treated as a 4x change
    return math.log2(b / a)


def class_findings(table: pd.DataFrame) -> list[Finding]:
    """At most one finding per class family (see the module docstring)."""
    moved = table[(table["log2_ratio"].abs() >= math.log2(1 + MIN_RELATIVE)) & (table["corpus_pp"] >= MIN_CORPUS_PP)]
    out = []
    for family, rows in moved.groupby("family", sort=True):
        scored = rows.assign(severity=[saturating(r, 2.0) * saturating(pp, 1.0)
                                       for r, pp in zip(rows["log2_ratio"], rows["corpus_pp"], strict=True)])
        scored = scored.assign(score=scored["severity"] * (1 - scored["p_adjusted"]))
        best = scored.sort_values(["score", "severity"], ascending=False).iloc[0]
        out.append(_class_finding(str(family), best, scored))
    return out


def _class_finding(family: str, row, rows: pd.DataFrame) -> Finding:
    verb = "fell" if row["diff"] < 0 else "rose"
    where = "" if row["scope"] == "all" else f" in domain '{row['scope']}'"
    label = CLASS_LABELS[row["measure"]]
    effect = CLASS_EFFECTS.get(family, CLASS_EFFECTS["whitespace"])
    title = (f"{label} {verb} from {100 * row['share_a']:.2f}% to {100 * row['share_b']:.2f}% of "
             f"{row['unit']}{where}")
    evidence = {"token_class": family, "measure": row["measure"], "scope": row["scope"], "share_a": row["share_a"],
                "share_b": row["share_b"], "pp": 100 * row["diff"], "corpus_pp": row["corpus_pp"],
                "log2_ratio": row["log2_ratio"], "se": row["se"], "p_adjusted": row["p_adjusted"],
                "likely_effect": effect, "null": SHARE_NULL,
                "rows": rows[["scope", "measure", "share_a", "share_b", "p_adjusted"]].head(12).to_dict("records")}
    return Finding(lens="data", severity=float(row["severity"]), confidence=1.0 - float(row["p_adjusted"]),
                   title=title, evidence=evidence, kind="data.token_class_shift", subject=family,
                   next_check=f"look at {effect}; find the pipeline step or source that lost or gained these")


def distribution_finding(a: GroupStats, b: GroupStats, lost: str, gained: str, extra: dict) -> Finding | None:
    """The token distribution against the group-permutation null (None when nothing moved beyond it)."""
    test = distribution_test(a.bins, b.bins)
    excess = test["js_distance"] - test["null_mean"]
    if not math.isfinite(excess) or excess <= 0:
        return None
    return Finding(
        lens="data", severity=saturating(excess, 0.25), confidence=1.0 - test["p_value"],
        title=(f"token distribution shifted beyond sampling noise (JS distance {test['js_distance']:.3f} vs "
               f"{test['null_mean']:.3f} +- {test['null_sd']:.3f} between random splits); most lost: {lost}; "
               f"most gained: {gained}"),
        evidence={**test, **extra, "null": "both snapshots are samples of one corpus: the JS distance over 1,024 "
                                           "hashed token bins against 999 permutations of the 64 document groups"},
        next_check="read documents of the new snapshot that contain the most-lost tokens' contexts; they point at "
                   "the sources that were dropped", kind="data.token_shift", subject="tokens")
