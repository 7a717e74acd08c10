"""Contamination as a change: items the candidate's data newly contains are the finding, with their
score change against the clean items; items both snapshots contain are shared."""

from __future__ import annotations

import pandas as pd
import pytest

from fourlens.data.report import ContaminationReport, change_findings


def _report(contaminated: set[int], overlap: float = 0.9, n: int = 100) -> ContaminationReport:
    rows = [{"eval_set": "quiz", "item_id": str(i), "method": "ngram", "n_ngrams": 20,
             "overlap": overlap if i in contaminated else 0.0, "boilerplate_ngrams": 0, "category": "dirty",
             "contaminated": i in contaminated,
             "evidence": {"span": f"item {i}", "shard": "s.jsonl", "document": i, "offset": 0, "end": 10}
             if i in contaminated else None} for i in range(n)]
    return ContaminationReport(items=pd.DataFrame(rows), boilerplate=pd.DataFrame(),
                               settings={"n": 13, "rule": "any"})


def _scores(values: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame([{"task": "quiz", "metric": "acc", "item_id": str(i), "score": s} for i, s in values.items()])


def test_newly_contaminated_items_are_the_finding_and_the_old_ones_are_shared():
    base, cand = _report(set(range(10))), _report(set(range(40)))
    before = _scores({i: 0.0 if i % 2 else 1.0 for i in range(100)})
    after = _scores({i: 1.0 if 10 <= i < 40 else (0.0 if i % 2 else 1.0) for i in range(100)})
    found = change_findings(base, cand, before, after)
    new = next(f for f in found if f.status == "ranked")
    assert new.title.startswith("quiz: 30 of 100 items (30.0%) newly found in the candidate's training data")
    assert new.evidence["contaminated_in_both"] == 10 and new.confidence > 0.999 and new.severity == 1.0
    assert new.evidence["score_change_contaminated"] == pytest.approx(0.5)   # 15 of 30 went 0 -> 1
    assert new.evidence["score_change_clean"] == 0.0 and new.evidence["score_p_value"] < 1e-4
    assert [f.title for f in found if f.status == "shared"] == [
        "quiz: 10 of 100 items found in both snapshots' training data"]


def test_chance_matches_with_little_overlap_and_no_excess_are_weak():
    base, cand = _report({1, 5, 9, 13}, overlap=0.05), _report({2, 6, 10, 14}, overlap=0.05)
    (new,) = [f for f in change_findings(base, cand) if f.status == "ranked"]
    assert new.severity < 0.05 and new.confidence < 0.5   # 4 new, 4 gone: no excess over the baseline
