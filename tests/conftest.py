"""Shared fixtures: everything is generated here, nothing is downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

# One intra-op thread for the whole suite (and the CLI subprocesses it starts): the tests' models are
# tiny, and two torch threads spin-waiting on each other cost 20-30 ms per op whenever the machine is
# busy. Set before anything imports torch; a value the caller set wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Models the tests train once (TinyLM, the zoo CNN, the demo LM) are cached in a folder the suite owns,
# not in the user's ~/.cache; it survives between runs (git ignores it), so the training happens once.
# XDG_CACHE_HOME set by the caller wins.
os.environ.setdefault("XDG_CACHE_HOME", str(Path(__file__).resolve().parent.parent / ".test-cache"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fourlens.report import Figure, Finding, Report  # noqa: E402


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def training_log(steps: int = 400, spike_at: int | None = None, seed: int = 0) -> list[dict]:
    """A noisy decaying loss with an optional planted spike (8x for 5 steps, then recovery)."""
    rng = np.random.default_rng(seed)
    records = []
    for step in range(steps):
        loss = 3.0 * np.exp(-step / 150) + 1.0 + rng.normal(0, 0.02)
        grad = 1.0 + rng.normal(0, 0.05)
        if spike_at is not None and spike_at <= step < spike_at + 5:
            loss *= 8
            grad *= 30
        records.append({"step": step, "loss": float(loss), "grad_norm": float(grad), "lr": 1e-3})
    return records


def eval_items(accuracy: dict[str, float], n: int = 300, seed: int = 0) -> list[dict]:
    """Binary item scores per task on a fixed item set; `accuracy` per task."""
    rng = np.random.default_rng(seed)
    records = []
    for task, p in accuracy.items():
        draws = rng.random(n)
        for i in range(n):
            records.append({"task": task, "item_id": f"{task}-{i}", "score": int(draws[i] < p),
                            "category": "long" if i % 3 == 0 else "short"})
    return records


@pytest.fixture
def make_bundle(tmp_path: Path):
    """Create a bundle directory with training logs and/or eval items."""

    def make(name: str, log: list[dict] | None = None, evals: list[dict] | None = None,
             manifest: str | None = None) -> Path:
        root = tmp_path / name
        root.mkdir()
        if log is not None:
            write_jsonl(root / "logs" / "metrics.jsonl", log)
        if evals is not None:
            write_jsonl(root / "evals" / "items.jsonl", evals)
        if manifest is not None:
            (root / "fourlens.toml").write_text(manifest, encoding="utf-8")
        return root

    return make


@pytest.fixture
def sample_report() -> Report:
    findings = [
        Finding("behavior", "gsm8k accuracy -6.1 pts (95% CI -9.0 to -3.2)", 0.61, 0.99,
                {"n": 1319, "diff": -0.061, "by_category": [{"category": "multi-step", "count": 32}]},
                "read the 41 items that flipped"),
        Finding("training", "loss spike at step 41,200", 0.9, 0.97, {"ratio": 8.1, "value": float("nan")},
                "inspect the batch at step 41,200"),
        Finding("data", "code share down 12 pts", 0.4, 0.8, {"domains": ["code", "social"]}, "diff the mix"),
        Finding("representation", "layer 11 CKA 0.62", 0.3, 0.5, {}, "compare layer 11 heads"),
    ]
    figures = [
        Figure("training", "loss", "line", {"x_label": "step", "y_label": "loss",
                                            "series": [{"name": "cand", "x": [0, 1, 2], "y": [3.0, 2.0, 9.0]}],
                                            "markers": [{"x": 2, "y": 9.0, "label": "spike"}]}),
        Figure("behavior", "paired differences", "forest",
               {"x_label": "diff", "rows": [{"label": "gsm8k", "estimate": -0.06, "low": -0.09, "high": -0.03}]}),
    ]
    return Report(title="ckpt-b vs ckpt-a", findings=findings, baseline="ckpt-a", candidate="ckpt-b",
                  figures=figures)


# Headless Debian Chromium driven by Playwright; never a downloaded browser. One session-wide instance
# for every browser test (e2e, the transformer attention page): a second sync Playwright in the same
# process refuses to start. Without /usr/bin/chromium these tests skip on a developer's machine but
# fail in CI, where .ci/run installs Chromium and sets FOURLENS_REQUIRE_BROWSER=1.
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("FOURLENS_REQUIRE_BROWSER") == "1":
            pytest.fail("FOURLENS_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    """The reduced `fourlens demo` workspace (tests/demo/small.py), built once per session."""
    for module in ("transformers", "lm_eval", "tensorboard"):
        pytest.importorskip(module)
    from tests.demo.small import build_small_workspace

    return build_small_workspace(tmp_path_factory.mktemp("demo"))
