"""A generated runs directory and a dashboard over it, built once per test session and shared by the
API tests and the browser tests (tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.runs_fixture import shared_runs, shared_store

pytest.importorskip("fastapi", reason="the serve extra is part of [dev]; CI installs it")


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_runs(tmp_path_factory)


@pytest.fixture(scope="session")
def client(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A TestClient over the runs directory; views are computed in the request (inline)."""
    from fastapi.testclient import TestClient

    from fourlens.server import create_runs_app

    return TestClient(create_runs_app(runs_dir, inline=True, store=shared_store(tmp_path_factory), reload_s=0.0))


def write_items(path: Path, accuracy: float, n: int = 60, seed: int = 0) -> Path:
    """Generic eval items (task, item_id, score) with the given accuracy."""
    import json

    import numpy as np

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"task": "qa", "item_id": f"q{i}", "score": int(rng.random() < accuracy),
                                        "prompt": f"question {i}", "response": f"answer {i}"}) + "\n"
                            for i in range(n)))
    return path
