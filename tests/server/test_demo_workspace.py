"""A workspace written by `fourlens demo` is a runs directory: the dashboard serves its bundles (baseline
and candidate; extras/, with the eval tasks and the control, is not a checkpoint) and compares them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fourlens.server import create_runs_app
from fourlens.server.store import Store


def test_the_demo_workspace_is_a_runs_directory(demo_workspace):
    out = demo_workspace.root
    client = TestClient(create_runs_app(out, inline=True, store=Store(None)))
    listed = client.get("/api/checkpoints").json()["checkpoints"]
    assert [c["id"] for c in listed] == ["baseline", "candidate"]
    assert all(c["ok"] for c in listed)
    body = client.get("/api/overview").json()
    assert body["status"] == "ready" and body["candidate"]["id"] == listed[-1]["id"]
    assert body["baseline"]["id"] == listed[-2]["id"]
    assert body["n_findings"] > 0 and "loss" in body["timeline"] and "capability" in body["timeline"]
    assert client.get("/").status_code == 200
