import json

from fourlens.data.synthetic import snapshot_documents
from fourlens.triage import load_bundle, triage
from tests.data.planted import planted_case


def _bundle(root, mix, seed, manifest=""):
    root.mkdir(parents=True)
    docs = snapshot_documents(("arithmetic", "code", "reading"), mix, n_docs=1500, seed=seed)
    (root / "data").mkdir()
    (root / "data" / "snapshot.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    if manifest:
        (root / "fourlens.toml").write_text(manifest)
    return root


def test_triage_finds_the_cut_code_domain(tmp_path):
    base = _bundle(tmp_path / "base", (1 / 3, 1 / 3, 1 / 3), 0)
    cand = _bundle(tmp_path / "cand", (0.46, 0.08, 0.46), 1)
    assert load_bundle(base).has("data")
    report = triage(base, cand)
    data = [f for f in report.findings if f.lens == "data"]
    assert any(f.title.startswith("domain 'code' fell") and f.severity == 1.0 for f in data)
    assert [s.state for s in report.lenses if s.name == "data"] == ["ok"]
    assert any(fig.lens == "data" for fig in report.figures)


def test_triage_contamination_from_manifest_options(tmp_path):
    train, evals, _ = planted_case(tmp_path / "p")
    cand = tmp_path / "cand"
    (cand / "data").mkdir(parents=True)
    for shard in train.glob("*.jsonl"):
        (cand / "data" / shard.name).write_text(shard.read_text())
    (cand / "eval_sets").mkdir()
    (cand / "eval_sets" / "quiz.json").write_text(evals.read_text())  # not auto-detected as eval results
    (cand / "fourlens.toml").write_text('[options.data]\ncontamination_evals = ["eval_sets/*.json"]\n')
    base = tmp_path / "base"
    (base / "data").mkdir(parents=True)
    (base / "data" / "part-0.jsonl").write_text((train / "part-0.jsonl").read_text())
    report = triage(base, cand)
    titles = [f.title for f in report.findings]
    # 45 items are in the candidate's data; 15 of them were in the baseline's (part-0) already
    assert any(t.startswith("quiz: 30 of 110 items (27.3%) newly found") for t in titles), titles
    assert [f.title for f in report.shared if f.kind == "data.contamination"] == [
        "quiz: 15 of 110 items found in both snapshots' training data"]


def _copy_case(tmp_path):
    """Baseline and candidate bundles over the planted corpus (the candidate has all four shards)."""
    train, evals, _ = planted_case(tmp_path / "p")
    cand, base = tmp_path / "cand", tmp_path / "base"
    (cand / "data").mkdir(parents=True)
    for shard in train.glob("*.jsonl"):
        (cand / "data" / shard.name).write_text(shard.read_text())
    (base / "data").mkdir(parents=True)
    (base / "data" / "part-0.jsonl").write_text((train / "part-0.jsonl").read_text())
    return base, cand, evals


def test_triage_scans_lm_eval_samples_for_contamination_without_options(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base, cand, evals = _copy_case(tmp_path)
    # the quiz as lm-evaluation-harness --log_samples writes it: doc_id, doc (the dataset row), target
    samples = cand / "evals" / "samples_quiz_2026-11-25T10-00-00.123456.jsonl"
    samples.parent.mkdir()
    rows = [json.loads(line) for line in evals.read_text().splitlines()]
    samples.write_text("".join(json.dumps({"doc_id": i, "doc": {"question": r["prompt"]}, "target": r["answer"],
                                           "arguments": [], "resps": [], "filtered_resps": [], "acc": 1.0}) + "\n"
                               for i, r in enumerate(rows)))
    assert load_bundle(cand).has("evals")
    titles = [f.title for f in triage(base, cand).findings]
    assert any(t.startswith("quiz: 30 of 110 items") for t in titles), titles
    (cand / "fourlens.toml").write_text("[options.data]\ncontamination_evals = false\n")
    assert not any(t.startswith("quiz:") for t in (f.title for f in triage(base, cand).findings))


def test_profiles_are_cached_until_a_shard_changes(tmp_path, monkeypatch):
    import fourlens.data.profile_cache as profile_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base, cand, _ = _copy_case(tmp_path)
    calls = []
    real = profile_cache.profile
    monkeypatch.setattr(profile_cache, "profile", lambda paths, **kw: calls.append(paths) or real(paths, **kw))
    first = triage(base, cand)
    assert len(calls) == 2
    again = triage(base, cand)
    assert len(calls) == 2   # both snapshots unchanged: no profiling
    assert [f.title for f in again.findings] == [f.title for f in first.findings]
    shard = cand / "data" / "part-1.jsonl"
    shard.write_text(shard.read_text() + json.dumps({"text": "one more document"}) + "\n")
    triage(base, cand)
    assert len(calls) == 3   # only the changed snapshot is profiled again
    for entry in (tmp_path / "cache" / "fourlens" / "data-profiles").glob("*.npz"):
        entry.write_bytes(b"not a profile")   # corrupt entries are replaced, not an error
    triage(base, cand)
    assert len(calls) == 5
