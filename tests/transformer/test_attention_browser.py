"""The attention page in headless Chromium, offline: it draws, and its filters and clicks work."""

from __future__ import annotations

import pytest

from fourlens.transformer import attention

pytestmark = pytest.mark.e2e


def test_head_view_filter_and_model_view(browser, minilm, tmp_path):
    model, tokenizer = minilm
    result = attention(model, tokenizer, [("the cat sat on the mat", "the cat lay on the rug")])
    path = tmp_path / "attention.html"
    path.write_text(result.to_html(), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    refused, errors = [], []

    def guard(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_selector("#headview line", state="attached")
    assert refused == [] and errors == []
    assert page.locator("#grid canvas").count() == 6 * 12
    all_lines = page.locator("#headview line").count()
    page.select_option("#filter", "AB")
    ab_lines = page.locator("#headview line").count()
    assert 0 < ab_lines < all_lines
    # only queries of sentence A (rows 0-7) joined to keys of sentence B (rows 8-14)
    rows = page.evaluate("""() => [...document.querySelectorAll('#headview line')].map(
        l => [+l.getAttribute('y1'), +l.getAttribute('y2')])""")
    assert all(y1 < 10 + 8 * 18 + 13 <= y2 for y1, y2 in rows)
    page.locator("#grid canvas").nth(2).click()  # layer 0, head 2: one head shown
    assert page.locator("#heads input:checked").count() == 1
    context.close()
