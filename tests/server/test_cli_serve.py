"""`fourlens serve`: a runs directory or a report; a taken port, a wrong path, a bundle instead of a runs
directory: one clear line and exit 2, before anything says the dashboard is up."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from fourlens.cli import app
from tests.server.conftest import write_items


@pytest.fixture
def started(monkeypatch):
    """Replace the server loop: record what would have been served instead of serving forever."""
    calls = []

    def run(served_app, sock, host, port):
        calls.append({"app": served_app, "host": host, "port": port})
        sock.close()

    monkeypatch.setattr("fourlens.server.app._run", run)
    return calls


def serve(*args):
    return CliRunner().invoke(app, ["serve", *map(str, args)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_bundles(root):
    write_items(root / "ckpt-1" / "evals" / "items.jsonl", 0.8)
    write_items(root / "ckpt-2" / "evals" / "items.jsonl", 0.5, seed=1)
    return root


def test_serves_a_runs_directory(tmp_path, started):
    from fastapi.testclient import TestClient

    result = serve(two_bundles(tmp_path), "--port", free_port(), "--baseline", "ckpt-1")
    assert result.exit_code == 0, result.output
    client = TestClient(started[0]["app"], base_url="http://127.0.0.1")
    assert [c["id"] for c in client.get("/api/checkpoints").json()["checkpoints"]] == ["ckpt-1", "ckpt-2"]
    assert client.get("/api/checkpoints").json()["pinned"] == "ckpt-1"
    assert started[0]["host"] == "127.0.0.1"


def test_serves_a_report_json_as_before(tmp_path, sample_report, started):
    from fastapi.testclient import TestClient

    sample_report.to_json(tmp_path / "report.json")
    result = serve(tmp_path / "report.json", "--port", free_port())
    assert result.exit_code == 0, result.output
    assert TestClient(started[0]["app"]).get("/api/report").json()["title"] == sample_report.title


def test_a_taken_port_is_one_line_before_the_dashboard_says_it_is_up(tmp_path, started):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = serve(two_bundles(tmp_path), "--port", port)
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output and "--port" in result.output
    assert "dashboard on" not in result.output and "Traceback" not in result.output and not started


@pytest.mark.parametrize("port", [0, 70000])
def test_a_port_out_of_range(tmp_path, started, port):
    result = serve(two_bundles(tmp_path), "--port", port)
    assert result.exit_code == 2 and "between 1 and 65535" in result.output and not started


def test_other_hosts_are_warned_about(tmp_path, started):
    result = serve(two_bundles(tmp_path), "--host", "0.0.0.0", "--port", free_port())
    assert result.exit_code == 0
    assert "warning: --host 0.0.0.0 makes the dashboard reachable from other machines" in result.output


def test_an_empty_directory_is_served_and_waits(tmp_path, started):
    result = serve(tmp_path, "--port", free_port())
    assert result.exit_code == 0 and "holds no checkpoints yet" in result.output and started


@pytest.mark.parametrize("layout, words", [
    ("bundle", "is one bundle"),
    ("non-bundles", "no bundle fourlens can read"),
    ("missing", "does not exist"),
    ("unknown-baseline", "--baseline ckpt-9: no such checkpoint"),
    ("report-with-baseline", "--baseline picks a checkpoint of a runs directory"),
    ("not-a-report", "not valid JSON"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, started, layout, words):
    args = []
    if layout == "bundle":
        target = two_bundles(tmp_path) / "ckpt-1"
    elif layout == "non-bundles":
        (tmp_path / "junk").mkdir()
        (tmp_path / "junk" / "notes.md").write_text("hello")
        target = tmp_path
    elif layout == "missing":
        target = tmp_path / "nowhere"
    elif layout == "unknown-baseline":
        target, args = two_bundles(tmp_path), ["--baseline", "ckpt-9"]
    elif layout == "report-with-baseline":
        (tmp_path / "report.json").write_text("{}")
        target, args = tmp_path / "report.json", ["--baseline", "x"]
    else:
        (tmp_path / "report.json").write_text("not json")
        target = tmp_path / "report.json"
    result = serve(target, "--port", free_port(), *args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output and not started
