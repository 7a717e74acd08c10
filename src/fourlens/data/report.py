"""`ContaminationReport`: per-item overlap with the training data, the rules that judge it, and findings.

Rules (the published thresholds; `overlap` is the fraction of an item's n-grams found in training):
- `any`:    contaminated when any n-gram is found (GPT-3, Brown et al. 2020; lm-evaluation-harness);
- `palm`:   contaminated when overlap >= 0.7 (PaLM, Chowdhery et al. 2022, section 8);
- `llama2`: "dirty" (contaminated) when overlap >= 0.8, "clean" below 0.2, "in-between" otherwise
            (Llama 2, Touvron et al. 2023, appendix A.6).
Severity of a per-eval-set finding: min(1, contaminated share / 10%). Confidence: 1, since matches are
observed exactly, not estimated (boilerplate n-grams are excluded before this point).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from fourlens.report import Finding, saturating


def _any(overlap: float, n_ngrams: int, boiler: int, hit: bool) -> tuple[str, bool]:
    return ("dirty", True) if hit else ("clean", False)


def _palm(overlap: float, n_ngrams: int, boiler: int, hit: bool) -> tuple[str, bool]:
    return ("dirty", True) if hit and overlap >= 0.7 else ("clean", False)


def _llama2(overlap: float, n_ngrams: int, boiler: int, hit: bool) -> tuple[str, bool]:
    if not hit or overlap < 0.2:
        return "clean", False
    return ("dirty", True) if overlap >= 0.8 else ("in-between", False)


RULES: dict[str, Callable[[float, int, int, bool], tuple[str, bool]]] = {"any": _any, "palm": _palm,
                                                                         "llama2": _llama2}
FULL_SCALE_SHARE = 0.10


@dataclass(frozen=True)
class ContaminationReport:
    items: pd.DataFrame
    boilerplate: pd.DataFrame
    settings: dict = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]

    @property
    def flagged(self) -> pd.DataFrame:
        return self.items[self.items["contaminated"]]

    def summary(self) -> pd.DataFrame:
        """Per eval set: items, contaminated items and share, mean overlap, short items checked exactly."""
        groups = self.items.groupby("eval_set", sort=True)
        table = pd.DataFrame({
            "items": groups.size(), "contaminated": groups["contaminated"].sum().astype(int),
            "mean_overlap": groups["overlap"].mean(),
            "exact_match_items": groups["method"].apply(lambda s: int((s == "exact").sum())),
            "with_boilerplate": groups["boilerplate_ngrams"].apply(lambda s: int((s > 0).sum()))})
        table.insert(2, "share", table["contaminated"] / table["items"])
        return table.reset_index()

    def score_split(self, scores: pd.DataFrame) -> pd.DataFrame:
        """Accuracy on the contaminated vs the clean items per eval set, from behavior evidence
        (`task`, `item_id`, `score`: the item-level eval results), with Fisher's exact test for 0/1
        scores and Welch's t-test otherwise. Items are joined on eval_set == task and item_id."""
        from scipy import stats  # here, not at import: scipy.stats takes ~1 s to import, and a scan never needs it

        joined = self.items.merge(scores.rename(columns={"task": "eval_set"})[["eval_set", "item_id", "score"]]
                                  .astype({"item_id": str}), on=["eval_set", "item_id"], how="inner")
        rows = []
        for name, group in joined.groupby("eval_set", sort=True):
            dirty, clean = group[group["contaminated"]]["score"], group[~group["contaminated"]]["score"]
            if dirty.empty or clean.empty:
                continue
            binary = set(group["score"].unique()) <= {0, 1}
            if binary:
                table = [[int(dirty.sum()), int(len(dirty) - dirty.sum())],
                         [int(clean.sum()), int(len(clean) - clean.sum())]]
                p_value = float(stats.fisher_exact(table).pvalue)
            else:
                enough = min(len(dirty), len(clean)) > 1
                p_value = float(stats.ttest_ind(dirty, clean, equal_var=False).pvalue) if enough else math.nan
            rows.append({"eval_set": name, "n_contaminated": len(dirty), "n_clean": len(clean),
                         "score_contaminated": float(dirty.mean()), "score_clean": float(clean.mean()),
                         "diff": float(dirty.mean() - clean.mean()), "p_value": p_value})
        return pd.DataFrame(rows, columns=["eval_set", "n_contaminated", "n_clean", "score_contaminated",
                                           "score_clean", "diff", "p_value"])

    def findings(self, scores: pd.DataFrame | None = None, max_examples: int = 5) -> list[Finding]:
        split = self.score_split(scores).set_index("eval_set") if scores is not None else None
        out = []
        for row in self.summary().itertuples(index=False):
            if row.contaminated == 0:
                continue
            flagged = self.flagged[self.flagged["eval_set"] == row.eval_set].sort_values("overlap", ascending=False)
            examples = [{"item_id": r.item_id, "overlap": r.overlap, "span": r.evidence["span"][:200],
                         "shard": r.evidence["shard"], "document": r.evidence["document"],
                         "offset": r.evidence["offset"]} for r in flagged.head(max_examples).itertuples()]
            title = (f"{row.eval_set}: {row.contaminated} of {row.items} items ({100 * row.share:.1f}%) found in the "
                     f"training data ({self.settings.get('n')}-gram, rule {self.settings.get('rule')})")
            evidence = {"eval_set": row.eval_set, "items": row.items, "contaminated": row.contaminated,
                        "share": row.share, "mean_overlap": row.mean_overlap, "examples": examples,
                        **{k: v for k, v in self.settings.items() if k in ("n", "rule", "mode", "boilerplate_docs")}}
            if split is not None and row.eval_set in split.index:
                s = split.loc[row.eval_set]
                evidence.update({"score_contaminated": s.score_contaminated, "score_clean": s.score_clean,
                                 "score_p_value": s.p_value})
                title += (f"; score {100 * s.score_contaminated:.0f}% on them vs {100 * s.score_clean:.0f}% on "
                          "clean items")
            out.append(Finding(
                lens="data", title=title, severity=saturating(row.share, FULL_SCALE_SHARE), confidence=1.0,
                evidence=evidence,
                next_check=(f"report {row.eval_set} on its clean subset too; remove the matched documents (first: "
                            f"{examples[0]['shard']} document {examples[0]['document']}) from the training data"),
                kind="data.contamination", subject=str(row.eval_set)))
        return out

    def to_dict(self) -> dict:
        return {"settings": self.settings, "summary": self.summary().to_dict(orient="records"),
                "items": self.items.to_dict(orient="records"),
                "boilerplate": self.boilerplate.head(100).to_dict(orient="records")}

    def _repr_html_(self) -> str:
        flagged = self.flagged.drop(columns=["evidence"]).head(20)
        return self.summary().to_html(index=False) + flagged.to_html(index=False)
