"""Regenerate the pictures and tables of docs/transformer.md from real runs (MiniLM + the cached TinyLM).

    .venv/bin/python docs/img/transformer/make_figures.py

Pages are rendered by the lens itself, then photographed with headless Chromium (/usr/bin/chromium); the
attention page through Playwright, after the clicks a reader would make.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import plotly.graph_objects as go  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from fourlens.demo.tinylm import AsciiTokenizer, cached_run  # noqa: E402
from fourlens.report.plotting import to_plotly  # noqa: E402
from fourlens.transformer import (  # noqa: E402
    attention,
    embedding_map,
    head_scores,
    head_scores_over_training,
    heads_figure,
    induction_circuit,
    logit_lens,
    score_curves,
)
from fourlens.transformer.load import load_model  # noqa: E402

HERE = Path(__file__).resolve().parent
PAGE = {"include_plotlyjs": True, "config": {"displayModeBar": False}}  # offline page, no toolbar


def shoot(html: str, name: str, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={HERE / name}", f"--window-size={width},{height}", page.as_uri()],
                       check=True, capture_output=True)
    print("wrote", HERE / name)


def shoot_attention(html: str, name: str, width: int, height: int) -> None:
    """The attention page after a click on the model view's layer 0, head 2 cell (MiniLM's
    previous-token head), as a reader opens it."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        page_file = Path(tmp) / "page.html"
        page_file.write_text(html, encoding="utf-8")
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"],
                                             headless=True)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(page_file.as_uri())
        page.locator('#grid canvas[data-layer="0"][data-head="2"]').click()
        page.mouse.move(1, 1)
        page.screenshot(path=str(HERE / name))
        browser.close()
    print("wrote", HERE / name)


def main() -> None:
    model, tokenizer = load_model("minilm")
    pair = attention(model, tokenizer, [("the cat sat on the mat", "the cat lay on the rug")])
    shoot_attention(pair.to_html(title="MiniLM: the cat sat on the mat / the cat lay on the rug"),
                    "minilm_attention.png", 1300, 560)
    words = ["king", "queen", "man", "woman", "paris", "france", "london", "england", "cat", "dog", "apple",
             "banana"]
    shoot(embedding_map(model, tokenizer, words).to_plotly().to_html(**PAGE),
          "minilm_embeddings.png", 740, 580)

    run = cached_run(verbose=True)
    final = run.model()
    table = head_scores(final)
    figure = to_plotly(heads_figure(table, "induction"))
    figure.update_layout(width=520, height=320)
    figure.update_yaxes(dtick=1)
    figure.update_xaxes(dtick=1)
    shoot(figure.to_html(**PAGE), "tinylm_induction_heads.png", 540, 340)
    print(table.round(3).to_string(index=False))
    print(induction_circuit(final).description)

    table = head_scores_over_training((step, lambda step=step: run.model(step)) for step in run.steps)
    curves = score_curves(table)
    steps = curves.step.tolist()
    log = run.log()
    window = 50
    smooth = [sum(r["repeat_loss"] for r in log[max(0, i - window):i + 1]) / len(log[max(0, i - window):i + 1])
              for i in range(len(log))]
    plot = make_subplots(specs=[[{"secondary_y": True}]])
    plot.add_trace(go.Scatter(x=steps, y=curves.induction, name="max induction score, layer 1"))
    plot.add_trace(go.Scatter(x=steps, y=curves.previous_token, name="max previous-token score, layer 0"))
    plot.add_trace(go.Scatter(x=steps, y=curves.duplicate_token, name="max duplicate-token score, layer 0"))
    plot.add_trace(go.Scatter(x=[r["step"] for r in log], y=smooth, name="loss on repeated tokens (50-step mean)",
                              line={"color": "#999", "dash": "dot"}), secondary_y=True)
    plot.update_layout(template="plotly_white", width=820, height=400, title="TinyLM training: induction heads form",
                       legend={"orientation": "h", "y": -0.25}, xaxis_title="step")
    plot.update_yaxes(title_text="attention score", secondary_y=False)
    plot.update_yaxes(title_text="loss (nats)", secondary_y=True)
    shoot(plot.to_html(**PAGE), "tinylm_training_curve.png", 840, 420)

    lens = logit_lens(final, AsciiTokenizer(), "xq7#vKm2!pLw9zR xq7#vKm2!pLw9z")
    print(lens.to_text())


if __name__ == "__main__":
    main()
