"""The dashboard in Debian's Chromium: the overview of a runs directory of 5 checkpoints, a cause followed
to its lens page, a flipped item opened, a curve zoomed, the baseline switched, a sentence typed for the
attention view, an image uploaded. Every request to anything but the dashboard is refused and must not
happen. Screenshots go to $FOURLENS_ARTIFACTS/dashboard (default: .test-artifacts/dashboard)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.offline import guarded_page
from tests.server.runs_fixture import shared_runs, shared_store

pytestmark = pytest.mark.e2e
pytest.importorskip("fastapi", reason="the serve extra is part of [dev]; CI installs it")
JOB_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def artifacts() -> Path:
    root = Path(os.environ.get("FOURLENS_ARTIFACTS") or Path(__file__).resolve().parents[2] / ".test-artifacts")
    folder = root / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def serving(app):
    """`app` on a free loopback port, in a thread; yields its base URL."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The dashboard over the session's runs directory, background jobs on."""
    from fourlens.server import create_runs_app

    app = create_runs_app(shared_runs(tmp_path_factory), store=shared_store(tmp_path_factory),
                          allowed_hosts=["127.0.0.1"])
    with serving(app) as url:
        yield url


@pytest.fixture
def page(browser, dashboard):
    """A page whose requests may go to the dashboard only; what else it tried is checked at the end."""
    guarded = guarded_page(browser, (dashboard + "/", "data:", "blob:", "about:"))
    yield guarded.page
    guarded.context.close()
    assert guarded.refused == [], f"requests left the dashboard: {guarded.refused}"
    assert guarded.errors == [], f"script errors: {guarded.errors}"


def ready(page, selector: str) -> None:
    """Wait for `selector`, through the progress bar and the reload that follow a background job."""
    page.wait_for_selector(selector, timeout=JOB_TIMEOUT_MS)


def test_overview_cause_flipped_item_and_baseline(page, dashboard, artifacts):
    page.goto(dashboard + "/")
    ready(page, "#causes .finding")
    page.wait_for_selector("#timeline-capability .main-svg")
    assert page.locator("#timeline .js-plotly-plot").count() == 4
    assert "ckpt-5000" in page.locator("#headline").inner_text()
    page.screenshot(path=str(artifacts / "overview.png"), full_page=False)

    # switch the baseline: the onsets are bisected over the checkpoints in between
    with page.expect_navigation():
        page.select_option("#baseline-select", "ckpt-1000")
    ready(page, "#causes .finding")
    code = page.locator(".finding", has_text="code exact_match").first
    assert "began at ckpt-3000 (step 3,000)" in code.inner_text()
    assert page.locator("#flip-onsets tr").count() == 4   # header + ckpt-3000, ckpt-4000, ckpt-5000
    page.screenshot(path=str(artifacts / "overview-baseline.png"), full_page=False)
    page.locator("#timeline").screenshot(path=str(artifacts / "overview-timeline.png"))

    # follow the cause to its lens page, then open one of the items that flipped
    with page.expect_navigation():
        code.locator("a.finding-title").click()
    assert page.url.split("?")[0].endswith("/behavior") and "baseline=ckpt-1000" in page.url
    ready(page, "#flip-table tbody tr.flip-row")
    page.select_option("#flip-task", "code")
    page.wait_for_function("document.querySelector('#flip-count').textContent.includes('match')")
    page.locator("#flip-table tbody tr.flip-row").first.click()
    detail = page.locator("#item-detail")
    detail.wait_for(state="visible")
    text = detail.inner_text()
    assert "prompt (question)" in text and "Task " in text and "flipped at ckpt-" in text
    assert detail.locator(".side").count() == 2 and "score 1" in text and "score 0" in text
    page.locator("#flips").screenshot(path=str(artifacts / "behavior-item.png"))
    page.locator("#tasks").screenshot(path=str(artifacts / "behavior-forest.png"))
    page.locator("#safety").screenshot(path=str(artifacts / "behavior-safety.png"))


def test_zoom_a_training_curve(page, dashboard, artifacts):
    page.goto(dashboard + "/training?baseline=ckpt-1000&candidate=ckpt-5000")
    ready(page, "#curves .main-svg")
    page.locator(".curve-check[value='ckpt-3000']").check()
    page.wait_for_function("document.getElementById('curves').data.length === 3")
    before = page.evaluate("document.getElementById('curves').layout.xaxis.range")
    box = page.locator("#curves .nsewdrag").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.45 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.55 * box["width"], y, steps=8)
    page.mouse.up()
    page.wait_for_function(f"document.getElementById('curves').layout.xaxis.range[0] > {before[0] + 100}")
    after = page.evaluate("document.getElementById('curves').layout.xaxis.range")
    assert before[0] < after[0] < after[1] < before[1] and after[1] - after[0] < (before[1] - before[0]) / 4
    page.fill("#zoom-from", "2400")
    page.fill("#zoom-to", "2700")
    page.click("#zoom-apply")
    page.wait_for_function("document.getElementById('curves').layout.xaxis.range[0] === 2400")
    page.screenshot(path=str(artifacts / "training-zoom.png"), full_page=False)


def test_attention_for_a_typed_sentence(page, dashboard, artifacts):
    page.goto(dashboard + "/transformer?baseline=ckpt-1000&candidate=ckpt-5000")
    ready(page, "#attention-form")
    page.fill("#attention-text", "The cat sat on the mat.")
    page.click("#attention-go")
    page.wait_for_function("document.getElementById('attention-status').textContent.includes('tokens')")
    assert page.locator("#attention-status").inner_text().startswith("23 tokens, 2 layers x 4 heads")
    frame = page.frame_locator("#attention-frame")
    frame.locator("canvas").first.wait_for()
    assert frame.locator("canvas").count() >= 8   # the model view: one small map per layer and head
    page.locator("#attention").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "transformer-attention.png"), full_page=False)


def test_upload_an_image_to_the_vision_playground(page, dashboard, artifacts, tmp_path):
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (96, 96), (40, 120, 60))
    ImageDraw.Draw(picture).ellipse((20, 30, 76, 66), fill=(240, 240, 240), outline=(10, 10, 10))
    path = tmp_path / "upload.png"
    picture.save(path)
    page.goto(dashboard + "/vision")
    ready(page, "#playground")
    page.set_input_files("#upload-input", str(path))
    page.wait_for_function("document.getElementById('explain-status').textContent.startsWith('predicted')",
                           timeout=60_000)
    assert page.locator("#map-grid figure.map").count() == 4   # the default methods
    assert page.locator("#upload-status").inner_text() == "uploaded upload.png"
    page.wait_for_function("document.getElementById('channel-status').textContent.includes('channel')",
                           timeout=60_000)
    assert page.locator("#top-nine").evaluate("img => img.naturalWidth") > 100
    page.screenshot(path=str(artifacts / "vision-upload.png"), full_page=False)


def test_a_checkpoint_that_arrives_is_announced(browser, tmp_path):
    from fourlens.server import create_runs_app
    from fourlens.server.store import Store
    from tests.server.conftest import write_items

    for k, accuracy in ((1, 0.9), (2, 0.5)):
        write_items(tmp_path / "runs" / f"ckpt-{k}" / "evals" / "items.jsonl", accuracy, seed=k)
    with serving(create_runs_app(tmp_path / "runs", store=Store(None), reload_s=0.0)) as url:
        guarded = guarded_page(browser, (url + "/", "data:"))
        page = guarded.page
        page.goto(url + "/")
        ready(page, "#causes")
        assert page.locator("#new-checkpoints").is_hidden()
        write_items(tmp_path / "runs" / "ckpt-3" / "evals" / "items.jsonl", 0.4, seed=3)
        page.wait_for_selector("#new-checkpoints", state="visible", timeout=30_000)
        with page.expect_navigation():
            page.click("#new-checkpoints a")
        ready(page, "#causes")
        assert "ckpt-3" in page.locator("#headline").inner_text()
        guarded.context.close()
        assert guarded.refused == [] and guarded.errors == []
