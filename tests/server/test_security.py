"""No route takes a filesystem path; traversal, malformed parameters, oversized bodies and foreign Host
headers get a 4xx with one clear message, never a traceback or a file's content."""

from __future__ import annotations

import pytest

TRAVERSALS = ["/../pyproject.toml", "/static/../../pyproject.toml", "/static/%2e%2e/%2e%2e/etc/passwd",
              "/api/jobs/..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "/api/checkpoints/../../etc/passwd",
              "/static/x", "/docs", "/openapi.json", "/api/files?path=/etc/passwd"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_outside_the_routes_are_404_with_a_message(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "[project]" not in response.text
    if response.headers["content-type"].startswith("application/json"):
        assert "no page or API route" in response.json()["error"] or "no job" in response.json()["error"]
    else:   # the client may normalise ../ away before sending: the page route answers
        assert "no page or API route" in response.text


@pytest.mark.parametrize("query", ["baseline=../../etc/passwd", "baseline=/etc/passwd", "candidate=..",
                                   "baseline=ckpt-1000%2F..%2F..", "baseline=" + "a" * 200, "baseline=%00"])
def test_checkpoint_ids_are_pattern_checked(client, query):
    api = client.get(f"/api/overview?{query}")
    assert api.status_code == 422
    assert api.json()["error"].startswith("malformed parameters:")
    page = client.get(f"/?{query}")
    assert page.status_code == 422 and "malformed parameters" in page.text and "Traceback" not in page.text


def test_unknown_checkpoint_is_404_naming_the_known_ones(client):
    api = client.get("/api/overview?baseline=ckpt-9999")
    assert api.status_code == 404 and "no checkpoint 'ckpt-9999'" in api.json()["error"]
    assert "ckpt-5000" in api.json()["error"]
    page = client.get("/behavior?candidate=ckpt-9999")
    assert page.status_code == 404 and "no checkpoint" in page.text
    same = client.get("/api/overview?baseline=ckpt-5000&candidate=ckpt-5000")
    assert same.status_code == 400 and "both 'ckpt-5000'" in same.json()["error"]


@pytest.mark.parametrize("query, status, words", [
    ("checkpoints=ckpt-1000,../secret&signal=loss", 400, "is not an id"),
    ("checkpoints=ckpt-1000&signal=../../loss", 422, "signal"),
    ("checkpoints=&signal=loss", 400, "at least one checkpoint"),
    ("checkpoints=ckpt-1000&signal=no_such_signal", 400, "logs the signal"),
    ("checkpoints=" + ",".join(["ckpt-1000"] * 51), 400, "at most 50"),
])
def test_curve_parameters(client, query, status, words):
    response = client.get(f"/api/training/curves?{query}")
    assert response.status_code == status and words in response.json()["error"]


@pytest.mark.parametrize("query, status", [("limit=0", 422), ("limit=100000", 422), ("offset=-1", 422),
                                           ("direction=sideways", 422), ("q=" + "x" * 600, 422)])
def test_flip_parameters(client, query, status):
    response = client.get(f"/api/behavior/flips?baseline=ckpt-1000&{query}")
    assert response.status_code == status and "malformed parameters" in response.json()["error"]


def test_item_that_does_not_exist(client):
    response = client.get("/api/behavior/item?task=code&metric=exact_match,none&item_id=../../etc/passwd")
    assert response.status_code == 404 and "no item '../../etc/passwd'" in response.json()["error"]


@pytest.mark.parametrize("body, words", [(b"not json", "must be JSON"), (b'{"txt": "a"}', '"text" string'),
                                         (b'{"text": "   "}', "type a text"), (b'[1, 2]', '"text" string')])
def test_attention_body_errors(client, body, words):
    response = client.post("/api/transformer/attention?checkpoint=ckpt-5000", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and words in response.json()["error"]


def test_attention_text_and_body_size_limits(client):
    long = client.post("/api/transformer/attention", json={"text": "word " * 200})
    assert long.status_code == 400 and "at most 400" in long.json()["error"]
    huge = client.post("/api/transformer/attention", content=b"x" * 100_000,
                       headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and "at most 65,536" in huge.json()["error"]

    def chunks():   # no Content-Length: refused as it streams
        for _ in range(20):
            yield b"y" * 10_000

    streamed = client.post("/api/transformer/attention", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and "over 65,536 bytes" in streamed.json()["error"]


def test_methods_not_allowed(client):
    assert client.delete("/api/overview").status_code == 405
    assert "not allowed" in client.put("/api/vision/upload").json()["error"]


def test_foreign_host_headers_are_refused_when_bound_to_loopback(runs_dir, tmp_path):
    from fastapi.testclient import TestClient

    from fourlens.server import create_runs_app
    from fourlens.server.store import Store

    app = create_runs_app(runs_dir, inline=True, store=Store(None), allowed_hosts=["127.0.0.1", "localhost"])
    local = TestClient(app, base_url="http://127.0.0.1:8765")
    assert local.get("/api/checkpoints").status_code == 200
    rebound = TestClient(app, base_url="http://attacker.example:8765")
    assert rebound.get("/api/checkpoints").status_code == 400
