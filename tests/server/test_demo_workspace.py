"""A workspace written by `fourlens demo` is a runs directory: the dashboard serves its bundles and
compares the last two."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.server import create_runs_app
from fourlens.server.store import Store


def test_the_demo_workspace_is_a_runs_directory(tmp_path):
    out = tmp_path / "demo"
    assert CliRunner().invoke(app, ["demo", "--out", str(out)]).exit_code == 0
    client = TestClient(create_runs_app(out, inline=True, store=Store(None)))
    listed = client.get("/api/checkpoints").json()["checkpoints"]
    written = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert sorted(c["id"] for c in listed) == written
    assert all(c["ok"] for c in listed)
    body = client.get("/api/overview").json()
    assert body["status"] == "ready" and body["candidate"]["id"] == listed[-1]["id"]
    assert body["baseline"]["id"] == listed[-2]["id"]
    assert body["n_findings"] > 0 and "loss" in body["timeline"] and "capability" in body["timeline"]
    assert client.get("/").status_code == 200
