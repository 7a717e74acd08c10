// Head view and model view of one text's attention (fourlens.transformer.attention_html).
(function () {
'use strict';
const D = JSON.parse(document.getElementById('attention-data').textContent);
const raw = atob(D.weights);
const W = new Uint8Array(raw.length);  // (layers, heads, query, key), 0..255
for (let i = 0; i < raw.length; i++) W[i] = raw.charCodeAt(i);
const N = D.tokens.length, L = D.layers, H = D.heads;
const at = (l, h, q, k) => W[((l * H + h) * N + q) * N + k] / 255;

// Okabe-Ito and friends for up to 12 heads; evenly spaced hues beyond, so no two heads share a colour.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#8C564B', '#000000',
                 '#7F7F7F', '#BCBD22', '#17BECF', '#9467BD'];
function hslToRgb(hue, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = n => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
const RGB = [...Array(H).keys()].map(h => H <= PALETTE.length
  ? [1, 3, 5].map(i => parseInt(PALETTE[h].slice(i, i + 2), 16)) : hslToRgb(h * 360 / H, 0.65, 0.42));
const color = h => `rgb(${RGB[h].join(',')})`;

const state = {layer: 0, shown: new Set([0]), hover: null};  // hover: ['q' | 'k', token index]

// ---- controls
const layerSel = document.getElementById('layer');
for (let l = 0; l < L; l++) layerSel.add(new Option(String(l), String(l)));
layerSel.onchange = () => { state.layer = +layerSel.value; update(); };
const filterSel = document.getElementById('filter');
if (D.b_start === null) {
  document.getElementById('filter-label').hidden = true;  // one sentence: nothing to filter
} else {
  for (const [v, t] of [['AB', 'sentence A -> sentence B'], ['BA', 'sentence B -> sentence A'],
                        ['AA', 'sentence A -> sentence A'], ['BB', 'sentence B -> sentence B']])
    filterSel.add(new Option(t, v));
}
filterSel.onchange = () => update();
const inSentence = (i, s) => s === 'A' ? i < D.b_start : i >= D.b_start;
function allowed(q, k) {
  const f = filterSel.value;
  return f === 'all' || (inSentence(q, f[0]) && inSentence(k, f[1]));
}

const headsBox = document.getElementById('heads');
const swatches = [];
for (let h = 0; h < H; h++) {
  const b = document.createElement('button');
  b.type = 'button'; b.className = 'swatch'; b.dataset.head = h; b.textContent = h;
  b.style.setProperty('--head', color(h));
  b.title = `head ${h}: click to add or remove, double-click to show it alone`;
  b.setAttribute('aria-label', `head ${h}`);
  b.onclick = () => { state.shown.has(h) ? state.shown.delete(h) : state.shown.add(h); update(); };
  b.ondblclick = () => { state.shown = new Set([h]); update(); };
  swatches.push(b); headsBox.append(b);
}
for (const [id, label, pick] of [['all-heads', 'all', () => [...Array(H).keys()]], ['no-heads', 'none', () => []]]) {
  const b = document.createElement('button');
  b.type = 'button'; b.id = id; b.className = 'small'; b.textContent = label;
  b.onclick = () => { state.shown = new Set(pick()); update(); };
  headsBox.append(b);
}

// ---- head view
const svg = document.getElementById('headview'), NS = 'http://www.w3.org/2000/svg';
const ROW = 18, TOP = 24, GAP = 260;
const measure = document.createElement('canvas').getContext('2d');
measure.font = '13px system-ui, sans-serif';
const labelW = Math.min(220, Math.max(40, 14 + Math.max(...D.tokens.map(t => measure.measureText(t).width))));
const x0 = labelW, x1 = labelW + GAP;  // the query column ends at x0, the key column starts at x1
const rowY = i => TOP + i * ROW + 13;  // the middle of token i's row

function node(tag, attrs, parent = svg) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.append(e);
  return e;
}

function linkWeights() {  // when hovering: per token of the other column, [largest weight, its head]
  if (!state.hover) return null;
  const [side, i] = state.hover, out = [];
  for (let j = 0; j < N; j++) {
    let best = 0, head = -1;
    const [q, k] = side === 'q' ? [i, j] : [j, i];
    if (allowed(q, k)) for (const h of state.shown) {
      const a = at(state.layer, h, q, k);
      if (a > best) { best = a; head = h; }
    }
    out.push([best, head]);
  }
  return out;
}

// Static parts are built once; a redraw replaces only the shading and the lines, so the token under the
// pointer is never replaced (which would end the hover that caused the redraw).
svg.setAttribute('width', x1 + labelW); svg.setAttribute('height', TOP + N * ROW + 10);
node('text', {x: x0 - 5, y: 12, 'text-anchor': 'end', class: 'colhead'}).textContent = 'query';
node('text', {x: x1 + 5, y: 12, 'text-anchor': 'start', class: 'colhead'}).textContent = 'key';
const shade = node('g', {class: 'shade', 'pointer-events': 'none'});
const lines = node('g', {class: 'lines', 'pointer-events': 'none'});
if (D.b_start !== null) {  // where sentence B starts, across both columns
  const y = TOP + D.b_start * ROW;
  node('line', {x1: 0, y1: y, x2: x1 + labelW, y2: y, stroke: '#bbb', 'stroke-dasharray': '3,3', class: 'separator'});
}
const labels = {q: [], k: []};
D.tokens.forEach((tok, i) => {
  for (const [side, x, anchor] of [['q', x0 - 5, 'end'], ['k', x1 + 5, 'start']]) {
    const t = node('text', {x, y: rowY(i) + 4, 'text-anchor': anchor, class: side === 'q' ? 'query' : 'key',
                            'data-index': i});
    t.textContent = tok;
    t.onmouseenter = () => { state.hover = [side, i]; drawHeadView(); };
    t.onmouseleave = () => { state.hover = null; drawHeadView(); };
    labels[side].push(t);
  }
});

function drawHeadView() {
  shade.replaceChildren(); lines.replaceChildren();
  for (const side of ['q', 'k']) labels[side].forEach((t, i) =>
    t.classList.toggle('hovered', !!state.hover && state.hover[0] === side && state.hover[1] === i));
  const links = linkWeights();
  if (links) {  // shade the tokens the hovered one links to, and mark the hovered one
    const [side, i] = state.hover;
    node('rect', {x: side === 'q' ? 0 : x1, y: TOP + i * ROW + 1, width: labelW, height: ROW - 2,
                  fill: '#fff1a8', class: 'hovered-row'}, shade);
    links.forEach(([a, h], j) => {
      if (h < 0 || a < 0.02) return;
      node('rect', {x: side === 'q' ? x1 : 0, y: TOP + j * ROW + 1, width: labelW, height: ROW - 2,
                    fill: color(h), 'fill-opacity': (0.15 + 0.6 * a).toFixed(3), class: 'linked'}, shade);
    });
  }
  for (const h of [...state.shown].sort((a, b) => a - b)) {
    for (let q = 0; q < N; q++) {
      if (state.hover && state.hover[0] === 'q' && state.hover[1] !== q) continue;
      for (let k = 0; k < N; k++) {
        if (state.hover && state.hover[0] === 'k' && state.hover[1] !== k) continue;
        const a = at(state.layer, h, q, k);
        if (a < 0.02 || !allowed(q, k)) continue;
        node('line', {x1: x0, y1: rowY(q), x2: x1, y2: rowY(k), stroke: color(h), 'stroke-opacity': a,
                      'stroke-width': 2, 'data-head': h, 'data-q': q, 'data-k': k}, lines);
      }
    }
  }
}

// ---- model view
const grid = document.getElementById('grid');
const cell = Math.max(20, Math.min(72, Math.floor(600 / H)));  // thumbnail size, px
grid.style.gridTemplateColumns = `auto repeat(${H}, ${cell + 2}px)`;
grid.append(document.createElement('span'));
for (let h = 0; h < H; h++) {
  const s = document.createElement('span');
  s.className = 'col-label'; s.textContent = H > 16 ? String(h) : `head ${h}`; grid.append(s);
}
const rowLabels = [], cells = [];
for (let l = 0; l < L; l++) {
  const label = document.createElement('span');
  label.className = 'row-label'; label.textContent = `layer ${l}`; grid.append(label); rowLabels.push(label);
  for (let h = 0; h < H; h++) {
    const c = document.createElement('canvas');
    c.width = N; c.height = N; c.style.width = cell + 'px'; c.style.height = cell + 'px';
    c.dataset.layer = l; c.dataset.head = h; c.tabIndex = 0; c.setAttribute('role', 'button');
    c.setAttribute('aria-label', `layer ${l}, head ${h}`); c.title = `layer ${l}, head ${h}`;
    c.style.setProperty('--head', color(h));
    const ctx = c.getContext('2d'), img = ctx.createImageData(N, N), [r, g, b] = RGB[h];
    for (let q = 0; q < N; q++) for (let k = 0; k < N; k++) {
      const a = at(l, h, q, k), o = (q * N + k) * 4;  // white -> the head's colour
      img.data[o] = 255 - a * (255 - r); img.data[o + 1] = 255 - a * (255 - g);
      img.data[o + 2] = 255 - a * (255 - b); img.data[o + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const open = () => {
      state.layer = l; layerSel.value = String(l); state.shown = new Set([h]); state.hover = null; update();
      document.getElementById('head-section').scrollIntoView({block: 'nearest'});
    };
    c.onclick = open;
    c.onkeydown = e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } };
    grid.append(c); cells.push(c);
  }
}

function update() {
  drawHeadView();
  swatches.forEach((b, h) => b.setAttribute('aria-pressed', String(state.shown.has(h))));
  rowLabels.forEach((r, l) => r.classList.toggle('current', l === state.layer));
  cells.forEach(c => c.classList.toggle('shown', +c.dataset.layer === state.layer && state.shown.has(+c.dataset.head)));
  const heads = [...state.shown].sort((a, b) => a - b);
  document.getElementById('shown').textContent = heads.length === 0
    ? `Layer ${state.layer}: no head shown; click a head's colour`
    : `Layer ${state.layer}, head${heads.length > 1 ? 's' : ''} ${heads.join(', ')}`;
}
update();
})();
