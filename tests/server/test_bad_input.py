"""An empty runs directory, a directory of non-bundles, one bundle that fails to load, and long work in
the background: one clear message each, never a traceback."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from fourlens.server import create_runs_app
from fourlens.server.store import Store
from tests.server.conftest import write_items


def app_over(root, inline=True):
    return TestClient(create_runs_app(root, inline=inline, store=Store(None), reload_s=0.0))


def test_empty_directory_waits_for_bundles(tmp_path):
    client = app_over(tmp_path)
    api = client.get("/api/overview")
    assert api.status_code == 409 and "holds no checkpoints yet: waiting for bundles" in api.json()["error"]
    page = client.get("/")
    assert page.status_code == 200 and "holds no checkpoints yet" in page.text and "Traceback" not in page.text
    assert client.get("/api/checkpoints").json()["checkpoints"] == []
    # bundles that appear are served without a restart
    write_items(tmp_path / "ckpt-1" / "evals" / "items.jsonl", 0.8)
    assert "only one checkpoint (ckpt-1)" in client.get("/api/overview").json()["error"]
    write_items(tmp_path / "ckpt-2" / "evals" / "items.jsonl", 0.3, seed=1)
    body = client.get("/api/overview").json()
    assert body["status"] == "ready" and body["candidate"]["id"] == "ckpt-2"
    assert any(c["lens"] == "behavior" for c in body["causes"])


def test_directory_of_non_bundles(tmp_path):
    for name in ("notes", "misc"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text("nothing fourlens reads")
    client = app_over(tmp_path)
    error = client.get("/api/overview").json()["error"]
    assert "holds 2 sub-directories but no bundle fourlens can read" in error and "misc:" in error
    assert "no bundle fourlens can read" in client.get("/training").text


def test_one_broken_bundle_is_shown_as_such_and_the_others_served(tmp_path):
    write_items(tmp_path / "ckpt-1" / "evals" / "items.jsonl", 0.8)
    write_items(tmp_path / "ckpt-3" / "evals" / "items.jsonl", 0.8, seed=2)
    (tmp_path / "ckpt-2").mkdir()
    (tmp_path / "ckpt-2" / "fourlens.toml").write_text("name = [unclosed")
    client = app_over(tmp_path)
    listed = {c["id"]: c for c in client.get("/api/checkpoints").json()["checkpoints"]}
    assert not listed["ckpt-2"]["ok"] and "not valid TOML" in listed["ckpt-2"]["error"]
    body = client.get("/api/overview").json()
    assert (body["baseline"]["id"], body["candidate"]["id"]) == ("ckpt-1", "ckpt-3")
    page = client.get("/")
    assert "could not be loaded: " in page.text and "not valid TOML" in page.text
    assert client.get("/api/checkpoints").json()["ignored"] == []
    broken = client.get("/api/overview?candidate=ckpt-2")
    assert broken.status_code == 409 and "could not be loaded" in broken.json()["error"]


def test_long_work_runs_in_the_background_with_progress(tmp_path):
    write_items(tmp_path / "ckpt-1" / "evals" / "items.jsonl", 0.9)
    write_items(tmp_path / "ckpt-2" / "evals" / "items.jsonl", 0.4, seed=3)
    client = app_over(tmp_path, inline=False)
    first = client.get("/api/overview")
    if first.status_code == 202:
        job = first.json()["job"]
        assert job["state"] in ("queued", "running", "done") and job["description"].startswith("overview")
        page = client.get("/")
        assert 'class="job"' in page.text or 'id="causes"' in page.text
        deadline = time.monotonic() + 120
        while client.get(f"/api/jobs/{job['id']}").json()["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        state = client.get(f"/api/jobs/{job['id']}").json()
        assert state["state"] == "done" and state["done"] == state["total"] and state["fraction"] == 1.0
    assert client.get("/api/overview").json()["status"] == "ready"
    assert client.get("/api/jobs/j999").status_code == 404


def test_a_failed_view_is_one_message(tmp_path):
    write_items(tmp_path / "ckpt-1" / "evals" / "items.jsonl", 0.9)
    (tmp_path / "ckpt-2" / "evals").mkdir(parents=True)
    # different item ids: the two runs cannot be paired item by item
    (tmp_path / "ckpt-2" / "evals" / "items.jsonl").write_text(
        "".join(f'{{"task": "qa", "item_id": "other{i}", "score": 1}}\n' for i in range(30)))
    client = app_over(tmp_path)
    body = client.get("/api/behavior").json()
    assert body["status"] == "ready" and "cannot be paired" in body["errors"][0]
    overview = client.get("/api/overview").json()
    assert "cannot be paired" in overview["flips"]["error"]
    assert "Traceback" not in client.get("/behavior").text


def test_pin_and_scaling_without_what_they_need(tmp_path):
    write_items(tmp_path / "ckpt-1" / "evals" / "items.jsonl", 0.9)
    write_items(tmp_path / "ckpt-2" / "evals" / "items.jsonl", 0.9, seed=4)
    client = app_over(tmp_path)
    missing = client.post("/api/pin?checkpoint=ckpt-7")
    assert missing.status_code == 404 and "no checkpoint 'ckpt-7'" in missing.json()["error"]
    scaling = client.get("/api/training/scaling").json()
    assert scaling["figure"] is None and "put scaling_runs.csv" in scaling["message"]
    training = client.get("/api/training").json()
    assert training["with_logs"] == [] and training["signals"] == []
    assert "No checkpoint has training logs" in client.get("/training").text
    attention = client.post("/api/transformer/attention", json={"text": "hello"})
    assert attention.status_code == 404 and "not a model the transformer lens can run" in attention.json()["error"]
