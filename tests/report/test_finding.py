import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fourlens.report import Finding, rank_findings, saturating
from fourlens.report.jsonsafe import json_safe


def test_finding_validates_fields():
    with pytest.raises(ValueError, match="lens must be one of"):
        Finding("vibes", "t", 0.5, 0.5)
    with pytest.raises(ValueError, match="one non-empty line"):
        Finding("data", "two\nlines", 0.5, 0.5)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        Finding("data", "t", 1.5, 0.5)
    with pytest.raises(ValueError, match="finite number"):
        Finding("data", "t", float("nan"), 0.5)


def test_evidence_is_made_json_safe():
    finding = Finding("training", "t", 0.5, 0.5, {"a": np.float32(1.5), "b": (1, 2), "c": torch.tensor([1, 2]),
                                                  "d": float("inf"), "e": np.int64(3)})
    assert finding.evidence == {"a": 1.5, "b": [1, 2], "c": [1, 2], "d": "Infinity", "e": 3}
    assert type(finding.evidence["e"]) is int


def test_evidence_rejects_objects_without_json_form():
    with pytest.raises(TypeError, match="evidence.x holds a object"):
        Finding("training", "t", 0.5, 0.5, {"x": object()})
    with pytest.raises(TypeError, match="evidence is meant to be small"):
        Finding("training", "t", 0.5, 0.5, {"x": np.zeros(20_000)})


def test_ranking_is_severity_times_confidence():
    low = Finding("data", "low", 0.9, 0.1)        # 0.09
    mid = Finding("behavior", "mid", 0.5, 0.5)    # 0.25
    high = Finding("training", "high", 0.6, 0.9)  # 0.54
    assert [f.title for f in rank_findings([low, mid, high])] == ["high", "mid", "low"]


def test_ranking_ties_follow_lens_order():
    a = Finding("data", "a", 0.5, 0.5)
    b = Finding("behavior", "b", 0.5, 0.5)
    assert [f.lens for f in rank_findings([a, b])] == ["behavior", "data"]


def test_saturating():
    assert saturating(0.05, 0.1) == 0.5
    assert saturating(-0.2, 0.1) == 1.0
    assert saturating(math.inf, 1.0) == 1.0
    with pytest.raises(ValueError):
        saturating(1.0, 0.0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_json_safe_is_identity_on_json_values(value):
    assert json_safe(value) == value


def test_kind_subject_and_step_round_trip_and_are_validated():
    finding = Finding(lens="training", title="lr schedule at step 450", severity=1.0, confidence=1.0,
                      kind="training.lr_schedule", subject="lr", step=450.0)
    assert finding.step == 450 and isinstance(finding.step, int)
    assert Finding.from_dict(finding.to_dict()) == finding
    assert Finding.from_dict({"lens": "data", "title": "t", "severity": 0, "confidence": 0}).kind == ""
    with pytest.raises(ValueError, match="kind"):
        Finding(lens="training", title="t", severity=0, confidence=0, kind="behavior.latency")
    with pytest.raises(ValueError, match="step"):
        Finding(lens="training", title="t", severity=0, confidence=0, step=1.5)
