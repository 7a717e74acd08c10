import pytest

from fourlens.server import create_app

pytest.importorskip("fastapi", reason="the serve extra is part of [dev]; CI installs it")


def test_serves_only_the_report(sample_report):
    from fastapi.testclient import TestClient

    client = TestClient(create_app(sample_report))
    page = client.get("/")
    assert page.status_code == 200 and "Check these three first" in page.text
    assert client.get("/api/report").json()["title"] == sample_report.title
    for path in ("/etc/passwd", "/../pyproject.toml", "/docs", "/openapi.json", "/static/x"):
        assert client.get(path).status_code == 404
