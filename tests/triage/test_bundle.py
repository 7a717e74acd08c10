import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from fourlens.errors import BadInputError
from fourlens.triage import detect_kind, load_bundle
from tests.conftest import eval_items, training_log, write_jsonl


def test_detects_every_kind(tmp_path):
    root = tmp_path / "bundle"
    write_jsonl(root / "a" / "metrics.jsonl", training_log(10))
    (root / "b").mkdir()
    (root / "b" / "scalars.csv").write_text("global_step,train/loss\n1,2.0\n")
    (root / "tb").mkdir()
    (root / "tb" / "events.out.tfevents.123.host").write_bytes(b"\x00")
    write_jsonl(root / "x" / "items.jsonl", eval_items({"gsm8k": 0.5}, n=3))
    (root / "lm").mkdir()
    (root / "lm" / "results_2024-01-01.json").write_text("{}")
    write_jsonl(root / "traces.jsonl", [{"request_id": "r1", "latency_ms": 120}])
    with gzip.open(root / "shard-000.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"text": "hello world", "url": "https://x.org"}) + "\n")
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(root / "model.safetensors"))
    (root / "notes.md").write_text("hello")
    bundle = load_bundle(root)
    names = {kind: sorted(p.name for p in paths) for kind, paths in bundle.evidence.items()}
    assert names["training_logs"] == ["events.out.tfevents.123.host", "metrics.jsonl", "scalars.csv"]
    assert names["evals"] == ["items.jsonl", "results_2024-01-01.json"]
    assert names["agent_traces"] == ["traces.jsonl"]
    assert names["data"] == ["shard-000.jsonl.gz"]
    assert names["weights"] == ["model.safetensors"]
    assert [p.name for p in bundle.ignored] == ["notes.md"]
    assert bundle.name == "bundle"


def test_long_first_record_still_detected(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps({"id": 1, "text": "word " * 30_000}) + "\n")
    assert detect_kind(path) == "data"


def test_directory_hint_decides_unknown_columns(tmp_path):
    path = tmp_path / "evals" / "odd.csv"
    path.parent.mkdir()
    path.write_text("question,correct\nq1,1\n")
    assert detect_kind(path) == "evals"


def test_manifest_overrides_and_names(tmp_path):
    root = tmp_path / "b"
    write_jsonl(root / "custom" / "run.jsonl", training_log(5))
    write_jsonl(root / "evals" / "items.jsonl", eval_items({"t": 0.5}, n=2))
    (root / "fourlens.toml").write_text(
        'name = "ckpt-41200"\nauto_detect = false\n[evidence]\ntraining_logs = ["custom/*.jsonl"]\n'
        '[options.training]\nwindow = 20\n')
    bundle = load_bundle(root)
    assert bundle.name == "ckpt-41200"
    assert [p.name for p in bundle.paths("training_logs")] == ["run.jsonl"]
    assert not bundle.has("evals")  # auto-detection is off
    assert bundle.lens_options("training") == {"window": 20}


@pytest.mark.parametrize("text, message", [
    ("name = ", "not valid TOML"),
    ("colour = 1", "unknown key"),
    ("[evidence]\nlogs = ['x']", "unknown evidence kind 'logs'"),
    ("[evidence]\ntraining_logs = ['missing.csv']", "matches nothing"),
    ("auto_detect = 'yes'", "must be true or false"),
])
def test_bad_manifests_are_named(tmp_path, text, message):
    root = tmp_path / "b"
    write_jsonl(root / "logs" / "m.jsonl", training_log(5))
    (root / "fourlens.toml").write_text(text)
    with pytest.raises(BadInputError, match=message) as info:
        load_bundle(root)
    assert "fourlens.toml" in str(info.value)


def test_missing_and_empty_bundles(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(BadInputError, match=r"holds no evidence.*ignored: readme.md"):
        load_bundle(tmp_path / "empty")
    (tmp_path / "file.csv").write_text("a\n")
    with pytest.raises(BadInputError, match="is a file"):
        load_bundle(tmp_path / "file.csv")


def test_safety_and_inspect_json_files_are_evals(tmp_path):
    import shutil

    harmbench = tmp_path / "model.json"  # HarmBench: behavior id -> judged generations
    harmbench.write_text(json.dumps({f"behavior_{i}": [{"test_case": "t", "generation": "g", "label": 0}]
                                     for i in range(3)}))
    jailbreakbench = tmp_path / "artifact.json"
    jailbreakbench.write_text(json.dumps({"parameters": {"method": "PAIR"}, "jailbreaks": [{"goal": "g"}]}))
    inspect_log = tmp_path / "log.json"  # a real inspect_ai log, longer than the sniff window
    shutil.copy(Path(__file__).parents[1] / "behavior" / "fixtures" / "inspect" / "a.json", inspect_log)
    unrelated = tmp_path / "config.json"
    unrelated.write_text(json.dumps({"hidden_size": 64, "layers": [{"kind": "attention"}]}))
    assert [detect_kind(p) for p in (harmbench, jailbreakbench, inspect_log)] == ["evals"] * 3
    assert detect_kind(unrelated) is None


def test_model_folder_json_is_not_data(tmp_path):
    """A tokenizer.json longer than the sniff window shows `content` keys (its added tokens) but is
    part of the model folder, not a corpus shard."""
    weights = tmp_path / "bundle" / "weights"
    weights.mkdir(parents=True)
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(weights / "model.safetensors"))
    (weights / "config.json").write_text(json.dumps({"model_type": "llama"}))
    tokenizer = {"version": "1.0", "added_tokens": [{"id": i, "content": f"<extra_{i}>", "special": True}
                                                    for i in range(3_000)],
                 "model": {"type": "BPE", "vocab": {f"tok{i}": i for i in range(5_000)}}}
    (weights / "tokenizer.json").write_text(json.dumps(tokenizer))
    (weights / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": {"0": {"content": "<s>"}}}))
    write_jsonl(tmp_path / "bundle" / "data" / "shard.jsonl", [{"text": "a document"}])
    assert detect_kind(weights / "tokenizer.json") is None
    bundle = load_bundle(tmp_path / "bundle")
    assert [p.name for p in bundle.paths("data")] == ["shard.jsonl"]
