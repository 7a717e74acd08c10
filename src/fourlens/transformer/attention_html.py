"""Head view and model view of one text's attention, as one self-contained HTML page (no CDN).

Head view (after bertviz, Vig 2019): the tokens in two columns, queries left and keys right, and a line
from each query to each key with opacity = weight, one colour per head. One head is shown at first;
clicking a head's colour swatch adds or removes it (double-click: that head alone), and the layer menu
picks the layer. Hovering a token keeps only its lines and shades the tokens it links to by weight. For
a sentence pair, the filter keeps only the queries of one sentence and the keys of the other (A -> B,
B -> A) or of one sentence alone (A -> A, B -> B).

Model view: a grid with one row per layer and one column per head (labelled), each cell the (query x
key) matrix as a thumbnail in its head's colour; click a cell to open that head in the head view.

Limits: pages stay light by refusing more than `MAX_HTML_TOKENS` tokens (use
`AttentionResult.window` for longer inputs) and by shipping the weights quantised to 8 bits, base64
encoded (a 128-token MiniLM page is ~1.6 MB).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from importlib import resources

import torch

from fourlens.errors import BadInputError

MAX_HTML_TOKENS = 128


def render_attention_html(tokens: Sequence[str], weights: torch.Tensor, sentence_b_start: int | None,
                          title: str = "Attention") -> str:
    """The page for one text: `tokens` (n,), `weights` (layers, heads, n, n) as (query, key) matrices,
    `sentence_b_start` the index of sentence B's first token (a pair) or None."""
    n = len(tokens)
    if weights.dim() != 4 or tuple(weights.shape[2:]) != (n, n):
        raise BadInputError(f"weights must be (layers, heads, {n}, {n}) for {n} tokens; got {tuple(weights.shape)}")
    if n > MAX_HTML_TOKENS:
        raise BadInputError(f"the text has {n} tokens; attention pages are limited to {MAX_HTML_TOKENS} so the "
                            "browser stays responsive. Page through it with result.window(start, stop)")
    quantised = (weights.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().contiguous()
    payload = {
        "tokens": list(tokens),
        "layers": int(weights.shape[0]),
        "heads": int(weights.shape[1]),
        "b_start": sentence_b_start,
        "weights": base64.b64encode(quantised.numpy().tobytes()).decode("ascii"),
    }
    # "</" inside a <script> would end it early; JSON allows the escaped form.
    data = json.dumps(payload).replace("</", "<\\/")
    fill = {"TITLE": html.escape(title), "SCRIPT": _asset("attention.js"), "DATA": data}
    # one pass, so a title that happens to contain a placeholder is left as it is
    return re.sub(r"__(TITLE|SCRIPT|DATA)__", lambda m: fill[m.group(1)], _asset("attention.html"))


def _asset(name: str) -> str:
    """The page's markup and script, kept as files beside this module (`assets/`)."""
    return resources.files("fourlens.transformer").joinpath("assets", name).read_text(encoding="utf-8")
