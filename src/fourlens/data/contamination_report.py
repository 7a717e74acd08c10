"""`ContaminationReport`: per-item overlap with the training data, the rules that judge it, and findings.

Rules (the published thresholds; `overlap` is the fraction of an item's n-grams found in training):
- `any`:    contaminated when any n-gram is found (GPT-3, Brown et al. 2020; lm-evaluation-harness);
- `palm`:   contaminated when overlap >= 0.7 (PaLM, Chowdhery et al. 2022, section 8);
- `llama2`: "dirty" (contaminated) when overlap >= 0.8, "clean" below 0.2, "in-between" otherwise
            (Llama 2, Touvron et al. 2023, appendix A.6).
Severity of a per-eval-set finding: min(1, contaminated share / 10%). Confidence: 1, since matches are
observed exactly, not estimated (boilerplate n-grams are excluded before this point).

In triage, contamination is judged as a change (`change_findings`): the items contaminated in the
candidate's data but not in the baseline's are the finding (a benchmark can sit in both snapshots;
that is not what changed), with their score change against the items clean in both; items found in
both snapshots are reported as shared. Its severity weighs the share of newly contaminated items by
their mean overlap, min(1, share x overlap / 10%): a verbatim copy of half a benchmark is 1.0, a few
chance 13-gram matches in a mix that changed are close to 0; its confidence is 1 - p of the exact
binomial test that the candidate's data matches more items than the baseline's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from fourlens._io import shown_path
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
                            f"{shown_path(examples[0]['shard'])} document {examples[0]['document']}) from the "
                            "training data"),
                kind="data.contamination", subject=str(row.eval_set)))
        return out

    def to_dict(self) -> dict:
        return {"settings": self.settings, "summary": self.summary().to_dict(orient="records"),
                "items": self.items.to_dict(orient="records"),
                "boilerplate": self.boilerplate.head(100).to_dict(orient="records")}

    def _repr_html_(self) -> str:
        flagged = self.flagged.drop(columns=["evidence"]).head(20)
        return self.summary().to_html(index=False) + flagged.to_html(index=False)


def change_findings(base: ContaminationReport, cand: ContaminationReport, scores_a: pd.DataFrame | None = None,
                    scores_b: pd.DataFrame | None = None, max_examples: int = 5) -> list[Finding]:
    """Per eval set: the items newly contaminated in the candidate's data (a finding), and those
    contaminated in both snapshots (a shared finding). `scores_a` / `scores_b`: item-level eval results
    (`task`, `item_id`, `score`) of the baseline and the candidate, for the score change of the newly
    contaminated items against the clean ones (the difference of their mean per-item changes, Welch's t;
    with the candidate's scores only, contaminated vs clean items of the candidate, Fisher / Welch)."""
    from scipy.stats import binomtest

    key = ["eval_set", "item_id"]
    joined = cand.items[key + ["contaminated", "overlap", "evidence"]].merge(
        base.items[key + ["contaminated"]].rename(columns={"contaminated": "in_baseline"}), on=key, how="left")
    joined["in_baseline"] = joined["in_baseline"].fillna(False).astype(bool)
    out = []
    for eval_set, group in joined.groupby("eval_set", sort=True):
        new = group[group["contaminated"] & ~group["in_baseline"]]
        both = group[group["contaminated"] & group["in_baseline"]]
        lost = int((~group["contaminated"] & group["in_baseline"]).sum())
        clean = group[~group["contaminated"] & ~group["in_baseline"]]
        settings = {k: v for k, v in cand.settings.items() if k in ("n", "rule", "mode", "boilerplate_docs")}
        if len(new):
            examples = [{"item_id": r.item_id, "overlap": r.overlap, "span": r.evidence["span"][:200],
                         "shard": r.evidence["shard"], "document": r.evidence["document"]}
                        for r in new.sort_values("overlap", ascending=False).head(max_examples).itertuples()]
            share = len(new) / len(group)
            overlap = float(new["overlap"].mean())
            # More items matched in the candidate than the other way round, beyond chance (exact binomial
            # on the items matched in one snapshot only: sign test of a McNemar table).
            p_value = float(binomtest(len(new), len(new) + lost, 0.5, alternative="greater").pvalue)
            title = (f"{eval_set}: {len(new)} of {len(group)} items ({100 * share:.1f}%) newly found in the "
                     f"candidate's training data ({settings.get('n')}-gram, rule {settings.get('rule')}, mean "
                     f"overlap {100 * overlap:.0f}%); {len(both)} in the baseline's too")
            evidence = {"eval_set": eval_set, "items": len(group), "newly_contaminated": len(new),
                        "contaminated_in_both": len(both), "no_longer_contaminated": lost, "share": share,
                        "mean_overlap": overlap, "p_value": p_value, "examples": examples, **settings,
                        "null": "the candidate's data matches no more eval items than the baseline's: exact "
                                "binomial on the items matched in one snapshot only (n-gram matches are exact; "
                                "boilerplate n-grams excluded)"}
            split = _score_change(str(eval_set), new, clean, scores_a, scores_b)
            if split:
                evidence.update(split)
                title += f"; {split['score_note']}"
            out.append(Finding(
                lens="data", title=title, severity=saturating(share * overlap, FULL_SCALE_SHARE),
                confidence=1.0 - p_value, evidence=evidence, kind="data.contamination", subject=str(eval_set),
                next_check=(f"report {eval_set} on its clean subset; remove the matched documents (first: "
                            f"{shown_path(examples[0]['shard'])} document {examples[0]['document']}) from the "
                            "new data")))
        if len(both):
            out.append(Finding(
                lens="data", status="shared", severity=saturating(len(both) / len(group), FULL_SCALE_SHARE),
                confidence=1.0, kind="data.contamination", subject=str(eval_set),
                title=f"{eval_set}: {len(both)} of {len(group)} items found in both snapshots' training data",
                evidence={"eval_set": eval_set, "items": len(group), "contaminated_in_both": len(both), **settings,
                          "null": "observed: the items' n-grams occur in both snapshots"},
                next_check=f"report {eval_set} on its clean subset for both checkpoints"))
    return out


def _score_change(eval_set: str, new: pd.DataFrame, clean: pd.DataFrame, scores_a: pd.DataFrame | None,
                  scores_b: pd.DataFrame | None) -> dict:
    from scipy import stats

    def per_item(scores: pd.DataFrame | None) -> pd.Series | None:
        if scores is None:
            return None
        rows = scores[scores["task"].astype(str) == eval_set]
        if rows.empty:
            return None
        # one score per item: the first metric the items carry (an lm-eval task logs several)
        metric = sorted(rows["metric"].astype(str).unique())[0] if "metric" in rows else None
        rows = rows[rows["metric"].astype(str) == metric] if metric is not None else rows
        return rows.assign(item_id=rows["item_id"].astype(str)).groupby("item_id")["score"].mean()

    b, a = per_item(scores_b), per_item(scores_a)
    if b is None:
        return {}
    ids_new, ids_clean = new["item_id"].astype(str), clean["item_id"].astype(str)
    if a is not None:
        change = (b - a).dropna()
        d_new, d_clean = change.reindex(ids_new).dropna(), change.reindex(ids_clean).dropna()
        if len(d_new) < 2 or len(d_clean) < 2:
            return {}
        p_value = float(stats.ttest_ind(d_new, d_clean, equal_var=False).pvalue)
        return {"score_change_contaminated": float(d_new.mean()), "score_change_clean": float(d_clean.mean()),
                "score_p_value": p_value,
                "score_note": (f"their score changed {100 * d_new.mean():+.0f} pts vs {100 * d_clean.mean():+.0f} on "
                               "the clean items")}
    s_new, s_clean = b.reindex(ids_new).dropna(), b.reindex(ids_clean).dropna()
    if s_new.empty or s_clean.empty:
        return {}
    return {"score_contaminated": float(s_new.mean()), "score_clean": float(s_clean.mean()),
            "score_note": f"the candidate scores {100 * s_new.mean():.0f}% on them vs {100 * s_clean.mean():.0f}% "
                          "on the clean items"}
