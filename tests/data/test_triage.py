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
    assert any(t.startswith("quiz: 45 of 110 items") for t in titles), titles
