"""The attention page in headless Chromium, offline: one head at a time, the head selector, the labelled
model view, hover and the sentence filter, each checked against the weights the page was made from."""

from __future__ import annotations

import pytest

from fourlens.transformer import attention

pytestmark = pytest.mark.e2e

LINE_CUTOFF = 0.02  # the page draws no line for a weight under this


@pytest.fixture(scope="module")
def pair(minilm):
    model, tokenizer = minilm
    return attention(model, tokenizer, [("the cat sat on the mat", "the cat lay on the rug")])


def _open(browser, result, tmp_path, name="attention.html"):
    """The page in a fresh context that refuses every request but the file itself."""
    path = tmp_path / name
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
    page.wait_for_selector("#headview line[data-head]", state="attached")
    return context, page, refused, errors


def _lines(page) -> list[tuple[int, int, int, float]]:
    """(head, query, key, opacity) of every line drawn in the head view."""
    return [tuple(row) for row in page.evaluate("""() => [...document.querySelectorAll('#headview .lines line')]
        .map(l => [+l.dataset.head, +l.dataset.q, +l.dataset.k, +l.getAttribute('stroke-opacity')])""")]


def _expected(result, layer: int, heads: set[int]) -> set[tuple[int, int, int]]:
    """The (head, query, key) lines the page must draw: weights as shipped (8 bits) at or over the cutoff."""
    shipped = (result.weights[layer, 0].clamp(0, 1) * 255).round() / 255  # (heads, q, k)
    return {(h, q, k) for h, q, k in (shipped >= LINE_CUTOFF).nonzero().tolist() if h in heads}


def _pressed(page) -> list[int]:
    return [int(h) for h in page.eval_on_selector_all('#heads .swatch[aria-pressed="true"]',
                                                      "els => els.map(e => e.dataset.head)")]


def test_one_head_at_first_and_swatches_add_and_remove_heads(browser, pair, tmp_path):
    context, page, refused, errors = _open(browser, pair, tmp_path)
    assert page.locator("#heads .swatch").count() == 12
    assert _pressed(page) == [0]
    assert {(h, q, k) for h, q, k, _ in _lines(page)} == _expected(pair, 0, {0})
    assert page.locator("#shown").inner_text() == "Layer 0, head 0"

    page.locator('#heads .swatch[data-head="3"]').click()  # add head 3
    assert _pressed(page) == [0, 3]
    assert {(h, q, k) for h, q, k, _ in _lines(page)} == _expected(pair, 0, {0, 3})
    page.locator('#heads .swatch[data-head="0"]').click()  # remove head 0
    assert _pressed(page) == [3]
    assert {(h, q, k) for h, q, k, _ in _lines(page)} == _expected(pair, 0, {3})
    page.locator('#heads .swatch[data-head="5"]').dblclick()  # head 5 alone
    assert _pressed(page) == [5]
    page.locator("#no-heads").click()
    assert _lines(page) == [] and "no head shown" in page.locator("#shown").inner_text()
    page.locator("#all-heads").click()
    assert _pressed(page) == list(range(12))

    page.locator('#heads .swatch[data-head="2"]').dblclick()
    page.select_option("#layer", "4")  # the layer menu keeps the chosen heads
    assert _pressed(page) == [2]
    assert {(h, q, k) for h, q, k, _ in _lines(page)} == _expected(pair, 4, {2})
    assert refused == [] and errors == []
    context.close()


def test_model_view_is_a_labelled_grid_whose_cells_open_their_head(browser, pair, tmp_path):
    context, page, _, errors = _open(browser, pair, tmp_path)
    rows = page.eval_on_selector_all("#grid .row-label", "els => els.map(e => e.textContent)")
    columns = page.eval_on_selector_all("#grid .col-label", "els => els.map(e => e.textContent)")
    assert rows == [f"layer {layer}" for layer in range(6)]
    assert columns == [f"head {head}" for head in range(12)]
    assert page.locator("#grid canvas").count() == 6 * 12
    # a label sits left of its row and above its column: the grid is laid out, not just listed
    cell = page.locator('#grid canvas[data-layer="3"][data-head="7"]').bounding_box()
    row = page.locator("#grid .row-label").nth(3).bounding_box()
    column = page.locator("#grid .col-label").nth(7).bounding_box()
    assert row["x"] + row["width"] <= cell["x"] and abs((row["y"] + row["height"] / 2)
                                                       - (cell["y"] + cell["height"] / 2)) < 3
    assert column["y"] + column["height"] <= cell["y"] and abs((column["x"] + column["width"] / 2)
                                                              - (cell["x"] + cell["width"] / 2)) < 3

    page.locator('#grid canvas[data-layer="0"][data-head="2"]').click()
    assert page.locator("#layer").input_value() == "0" and _pressed(page) == [2]
    assert page.locator("#grid .row-label.current").inner_text() == "layer 0"
    assert page.eval_on_selector_all("#grid canvas.shown", "els => els.map(e => [e.dataset.layer, e.dataset.head])") \
        == [["0", "2"]]
    # layer 0 head 2 is MiniLM's previous-token head: each query's strongest line goes where the weights
    # put the most attention, the token before it for most queries
    strongest: dict[int, tuple[float, int]] = {}
    for _, q, k, opacity in _lines(page):
        strongest[q] = max(strongest.get(q, (-1.0, -1)), (opacity, k))
    argmax = pair.weights[0, 0, 2].argmax(-1).tolist()
    assert all(strongest[q][1] == argmax[q] for q in strongest)
    assert sum(argmax[q] == q - 1 for q in range(1, len(argmax))) >= 12

    page.locator('#grid canvas[data-layer="5"][data-head="11"]').press("Enter")  # keyboard too
    assert page.locator("#layer").input_value() == "5" and _pressed(page) == [11]
    assert errors == []
    context.close()


def test_hover_keeps_one_tokens_links_and_the_filter_keeps_a_to_b(browser, pair, tmp_path):
    context, page, _, errors = _open(browser, pair, tmp_path)
    page.locator('#heads .swatch[data-head="1"]').click()
    everything = _lines(page)
    page.locator('#headview text.query[data-index="3"]').hover()
    hovered = _lines(page)
    assert hovered and {q for _, q, _, _ in hovered} == {3}
    assert set(hovered) == {line for line in everything if line[1] == 3}
    linked = page.eval_on_selector_all("#headview rect.linked", "els => els.length")
    assert linked == len({k for _, _, k, _ in hovered})  # every linked key is shaded, no other
    page.locator('#headview text.key[data-index="0"]').hover()
    assert {k for _, _, k, _ in _lines(page)} == {0}
    page.mouse.move(1, 1)
    assert _lines(page) == everything

    b_start = pair.sentence_b_start[0]
    page.select_option("#filter", "AB")
    kept = _lines(page)
    assert 0 < len(kept) < len(everything)
    assert all(q < b_start <= k for _, q, k, _ in kept)
    assert set(kept) == {line for line in everything if line[1] < b_start <= line[2]}
    page.select_option("#filter", "BB")
    assert all(q >= b_start and k >= b_start for _, q, k, _ in _lines(page))
    assert errors == []
    context.close()


def test_a_single_text_has_no_sentence_filter(browser, minilm, tmp_path):
    model, tokenizer = minilm
    result = attention(model, tokenizer, "the cat sat on the mat")
    context, page, _, errors = _open(browser, result, tmp_path, "single.html")
    assert not page.locator("#filter-label").is_visible()
    assert page.locator("#headview line.separator").count() == 0
    assert _pressed(page) == [0] and errors == []
    context.close()

