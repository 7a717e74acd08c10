"""Property tests for the generic item format: what is written is what is read, and comparing a run
with itself finds nothing."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fourlens.behavior import compare, load_evals

names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
records = st.lists(
    st.fixed_dictionaries({"task": names, "item_id": st.one_of(names, st.integers(0, 10_000)),
                           "score": st.one_of(st.integers(0, 1), st.floats(-1e6, 1e6, allow_nan=False)),
                           "category": names}),
    min_size=1, max_size=40, unique_by=lambda r: (r["task"], str(r["item_id"])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=records)
def test_round_trip_and_self_comparison(tmp_path, rows):
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = load_evals(path).items
    assert len(items) == len(rows)
    by_key = {(r["task"], str(r["item_id"])): float(r["score"]) for r in rows}
    assert all(by_key[(t, i)] == s for t, i, s in zip(items["task"], items["item_id"], items["score"], strict=True))
    result = compare(load_evals(path), load_evals(path))
    assert (result.table["diff"] == 0).all() and not result.table["significant"].any()
    assert len(result.flips) == 0
