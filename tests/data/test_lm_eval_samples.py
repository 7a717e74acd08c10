"""Contamination on lm-eval samples as every harness version writes them: a task with two filters logs
each document twice (gsm8k), and 0.4.0-0.4.2 wrote JSON arrays under another name."""

from __future__ import annotations

import json

import pytest

from fourlens.triage import triage
from tests.data.test_triage import _copy_case


@pytest.mark.parametrize("layout", ["two_filters_0.4.5", "json_array_0.4.2", "two_filters_0.4.13"])
def test_data_lens_scans_samples_with_several_filters(tmp_path, monkeypatch, layout):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base, cand, evals = _copy_case(tmp_path)
    rows = [json.loads(line) for line in evals.read_text().splitlines()]
    records = []
    for name in ("strict-match", "flexible-extract"):   # the harness logs filter by filter
        for i, row in enumerate(rows):
            record = {"doc_id": i, "doc": {"question": row["prompt"]}, "target": row["answer"], "arguments": [],
                      "resps": [], "filtered_resps": [], "exact_match": 1.0}
            if layout.endswith("0.4.13"):
                record.update(filter=name, metrics=["exact_match"])
            records.append(record)
    (cand / "evals").mkdir()
    if layout == "json_array_0.4.2":
        (cand / "evals" / "pretrained__m_quiz.jsonl").write_text(json.dumps(records, indent=2))
        (cand / "evals" / "results.json").write_text(json.dumps({
            "results": {"quiz": {"exact_match,strict-match": 1.0, "exact_match,flexible-extract": 1.0}},
            "configs": {"quiz": {"filter_list": [{"name": "strict-match"}, {"name": "flexible-extract"}]}},
            "versions": {"quiz": 1}}))
    else:
        (cand / "evals" / "samples_quiz_2024-07-01T10-00-00.123456.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records))
    report = triage(base, cand)
    data = next(status for status in report.lenses if status.name == "data")
    assert data.state == "ok", data.message
    titles = [f.title for f in report.findings]
    # 110 items, not 220: one doc logged once per filter is one item
    assert any(t.startswith("quiz: 30 of 110 items (27.3%) newly found") for t in titles), titles
