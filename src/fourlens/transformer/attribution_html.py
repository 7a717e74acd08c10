"""One self-contained page for a token attribution (`TokenAttribution.to_html`): the prompt as a heat
strip (red: the token raised the continuation's log-probability, blue: lowered it; opacity =
|attribution| / the largest), then a table of every target token x prompt token."""

from __future__ import annotations

import html
from collections.abc import Sequence

import torch

from fourlens._io import HTML_MARKER


def _cell(value: float, scale: float, text: str) -> str:
    alpha = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    colour = "214,39,40" if value > 0 else "31,119,180"
    return (f'<span class="tok" style="background:rgba({colour},{alpha:.3f})" title="{value:+.4f}">'
            f"{html.escape(text)}</span>")


def shown_token(token: str) -> str:
    # byte-level BPE marks a leading space with 'Ġ' and a newline with 'Ċ'; SentencePiece uses '▁'
    return token.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "\u21b5")


def render_attribution_html(*, method: str, input_tokens: Sequence[str], target_tokens: Sequence[str],
                            token_attr: torch.Tensor, seq_attr: torch.Tensor, target_log_probs: torch.Tensor,
                            title: str) -> str:
    """The page for `seq_attr` (inputs,), `token_attr` (targets, inputs) and `target_log_probs` (targets,)."""
    seq = seq_attr.tolist()
    scale = max((abs(v) for v in seq), default=0.0)
    strip = "".join(_cell(v, scale, shown_token(t)) for v, t in zip(seq, input_tokens, strict=True))
    target = html.escape("".join(shown_token(t) for t in target_tokens))
    header = "".join(f"<th>{html.escape(shown_token(t))}</th>" for t in input_tokens)
    matrix = token_attr.tolist()
    if len(matrix) == 1 and len(target_tokens) > 1:   # attributed as a whole: one row for the continuation
        target_tokens, target_log_probs = ["".join(target_tokens)], target_log_probs.sum().reshape(1)
    cell_scale = max((abs(v) for row in matrix for v in row), default=0.0)
    rows = "".join(
        f"<tr><th>{html.escape(shown_token(t))}</th><td>{lp:.3f}</td>"
        + "".join(f"<td>{_cell(v, cell_scale, f'{v:+.3f}')}</td>" for v in row) + "</tr>"
        for t, lp, row in zip(target_tokens, target_log_probs.tolist(), matrix, strict=True))
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta {HTML_MARKER.decode()} transformer">
<title>{html.escape(title)}</title><style>
body{{font-family:system-ui,sans-serif;margin:16px;color:#222}} .tok{{padding:2px 1px;border-radius:3px;
white-space:pre}} .strip{{font-family:ui-monospace,monospace;font-size:16px;line-height:2}}
table{{border-collapse:collapse;font-size:12px;margin-top:16px}} td,th{{border:1px solid #ddd;padding:2px 4px;
text-align:right}}</style></head><body>
<h2>{html.escape(title)}</h2>
<p>method: <b>{html.escape(method)}</b>; continuation: <code>{target}</code>
(log-probability {float(target_log_probs.sum()):.3f}). Red tokens raised it, blue tokens lowered it.</p>
<div class="strip" id="strip">{strip}</div>
<table id="per-target"><tr><th>target</th><th>log p</th>{header}</tr>{rows}</table>
</body></html>"""
