"""Head view and model view of one text's attention, as one self-contained HTML page (no CDN).

Head view (after bertviz, Vig 2019): tokens in two columns, a line from each query token to each key
token with opacity = weight, one colour per head; hover a token to see only its lines. Model view: a
layers x heads grid of small heatmaps; click one to open it in the head view. For a sentence pair the
"A -> B" filter keeps only the queries of one sentence and the keys of the other.

Limits: pages stay light by refusing more than `MAX_HTML_TOKENS` tokens (use
`AttentionResult.window` for longer inputs) and by shipping the weights quantised to 8 bits, base64
encoded (a 128-token MiniLM page is ~1.6 MB).
"""

from __future__ import annotations

import base64
import html
import json
from typing import TYPE_CHECKING

import torch

from fourlens.errors import BadInputError

if TYPE_CHECKING:
    from fourlens.transformer.attention import AttentionResult

MAX_HTML_TOKENS = 128


def render_attention_html(result: AttentionResult, index: int = 0, title: str = "Attention") -> str:
    if not 0 <= index < len(result.tokens):
        raise BadInputError(f"text index {index} is out of range; the result holds {len(result.tokens)} text(s)")
    n = len(result.tokens[index])
    if n > MAX_HTML_TOKENS:
        raise BadInputError(f"text {index} has {n} tokens; attention pages are limited to {MAX_HTML_TOKENS} "
                            "so the browser stays responsive. Page through it with result.window(start, stop)")
    w = result.weights[:, index, :, :n, :n].float()  # (layers, heads, q, k)
    quantised = (w.clamp(0, 1) * 255).round().to(torch.uint8).contiguous()
    payload = {
        "tokens": list(result.tokens[index]),
        "layers": int(w.shape[0]),
        "heads": int(w.shape[1]),
        "b_start": result.sentence_b_start[index],
        "weights": base64.b64encode(quantised.numpy().tobytes()).decode("ascii"),
    }
    # "</" inside a <script> would end it early; JSON allows the escaped form.
    data = json.dumps(payload).replace("</", "<\\/")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", data)


_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="fourlens transformer attention">
<title>__TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 8px} h2{font-size:15px;margin:16px 0 6px}
.controls{display:flex;gap:14px;align-items:center;flex-wrap:wrap;margin-bottom:8px;font-size:13px}
.heads label{margin-right:6px;padding:1px 5px;border-radius:3px;color:#fff;cursor:pointer}
#grid{display:grid;gap:4px}
#grid canvas{border:1px solid #ccc;cursor:pointer} #grid canvas.sel{border:2px solid #000}
.cap{font-size:12px;color:#555}
</style></head><body>
<h1>__TITLE__</h1>
<div class="controls">
 <label>Layer <select id="layer"></select></label>
 <label>Filter <select id="filter"><option value="all">all</option></select></label>
 <span class="heads" id="heads"></span>
</div>
<div class="cap">Head view: each line joins a query token (left) to a key token (right); opacity is the
attention weight. Hover a token to show only its lines.</div>
<svg id="headview" xmlns="http://www.w3.org/2000/svg"></svg>
<h2>Model view</h2><div class="cap">Rows: layers; columns: heads; each cell is the (query x key) matrix.
Click a cell to open it in the head view.</div>
<div id="grid"></div>
<script id="attention-data" type="application/json">__DATA__</script>
<script>
(function(){
const D = JSON.parse(document.getElementById('attention-data').textContent);
const raw = atob(D.weights); const W = new Uint8Array(raw.length);
for (let i = 0; i < raw.length; i++) W[i] = raw.charCodeAt(i);
const N = D.tokens.length, L = D.layers, H = D.heads;
const at = (l, h, q, k) => W[((l * H + h) * N + q) * N + k] / 255;
const colors = ['#0072B2','#D55E00','#009E73','#CC79A7','#E69F00','#56B4E9','#8c564b','#000000',
                '#7f7f7f','#bcbd22','#17becf','#9467bd'];
const color = h => colors[h % colors.length];
let layer = 0, shown = new Set([...Array(H).keys()]), hover = null;
const layerSel = document.getElementById('layer');
for (let l = 0; l < L; l++) layerSel.add(new Option(String(l), String(l)));
layerSel.onchange = () => { layer = +layerSel.value; draw(); };
const filterSel = document.getElementById('filter');
if (D.b_start !== null) {
  for (const [v, t] of [['AB','sentence A -> sentence B'],['BA','sentence B -> sentence A'],
                        ['AA','sentence A -> sentence A'],['BB','sentence B -> sentence B']])
    filterSel.add(new Option(t, v));
}
filterSel.onchange = draw;
const inRange = (i, s) => s === 'A' ? i < D.b_start : i >= D.b_start;
function allowed(q, k) {
  const f = filterSel.value; if (f === 'all') return true;
  return inRange(q, f[0]) && inRange(k, f[1]);
}
const headsBox = document.getElementById('heads');
for (let h = 0; h < H; h++) {
  const lab = document.createElement('label'); lab.style.background = color(h);
  const cb = document.createElement('input'); cb.type = 'checkbox'; cb.checked = true;
  cb.onchange = () => { cb.checked ? shown.add(h) : shown.delete(h); draw(); };
  lab.append(cb, ' ' + h); headsBox.append(lab);
}
const svg = document.getElementById('headview'), NS = 'http://www.w3.org/2000/svg';
const rowH = 18, top = 10;
const labelW = Math.min(200, 12 + 8 * Math.max(...D.tokens.map(t => t.length)));
const x0 = labelW, x1 = labelW + 260;  // query column ends at x0, key column starts at x1
function text(x, y, s, anchor, i, side) {
  const t = document.createElementNS(NS, 'text');
  t.setAttribute('x', x); t.setAttribute('y', y); t.setAttribute('text-anchor', anchor);
  t.setAttribute('font-size', '13'); t.textContent = s; t.style.cursor = 'default';
  t.onmouseenter = () => { hover = [side, i]; draw(); };
  t.onmouseleave = () => { hover = null; draw(); };
  svg.append(t);
}
function draw() {
  svg.innerHTML = '';
  svg.setAttribute('width', x1 + labelW); svg.setAttribute('height', top + N * rowH + 10);
  for (const h of shown) for (let q = 0; q < N; q++) for (let k = 0; k < N; k++) {
    if (!allowed(q, k)) continue;
    if (hover && ((hover[0] === 'q' && hover[1] !== q) || (hover[0] === 'k' && hover[1] !== k))) continue;
    const a = at(layer, h, q, k); if (a < 0.02) continue;
    const line = document.createElementNS(NS, 'line');
    line.setAttribute('x1', x0); line.setAttribute('y1', top + q * rowH + 13);
    line.setAttribute('x2', x1); line.setAttribute('y2', top + k * rowH + 13);
    line.setAttribute('stroke', color(h)); line.setAttribute('stroke-opacity', a);
    line.setAttribute('stroke-width', 2); svg.append(line);
  }
  D.tokens.forEach((tok, i) => { text(x0 - 5, top + i * rowH + 17, tok, 'end', i, 'q');
                                 text(x1 + 5, top + i * rowH + 17, tok, 'start', i, 'k'); });
  document.querySelectorAll('#grid canvas').forEach(c =>
    c.classList.toggle('sel', +c.dataset.l === layer));
}
const grid = document.getElementById('grid');
grid.style.gridTemplateColumns = `repeat(${H}, auto)`;
const cell = Math.max(40, Math.min(110, Math.floor(1100 / H)));
for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
  const c = document.createElement('canvas'); c.width = N; c.height = N;
  c.style.width = cell + 'px'; c.style.height = cell + 'px'; c.style.imageRendering = 'pixelated';
  c.title = `layer ${l}, head ${h}`; c.dataset.l = l;
  const ctx = c.getContext('2d'), img = ctx.createImageData(N, N);
  for (let q = 0; q < N; q++) for (let k = 0; k < N; k++) {
    const v = 255 - Math.round(at(l, h, q, k) * 255), o = (q * N + k) * 4;
    img.data[o] = v; img.data[o + 1] = v; img.data[o + 2] = 255; img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  c.onclick = () => { layer = l; layerSel.value = String(l); shown = new Set([h]);
    headsBox.querySelectorAll('input').forEach((cb, i) => cb.checked = i === h); draw(); };
  grid.append(c);
}
draw();
})();
</script></body></html>
"""
