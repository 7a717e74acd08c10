// fourlens dashboard: draws the figures the server rendered into the page, follows background jobs,
// and drives the interactive parts (curves, flipped items, attention, the vision playground) through
// the JSON API under /api/. No request leaves the dashboard's own origin.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const CONFIG = {displaylogo: false, responsive: true};

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

async function api(url, options = {}) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (error) { body = {error: `${response.status} ${response.statusText}`}; }
  if (!response.ok && response.status !== 202) throw new Error(body.error || `${response.status}`);
  return {status: response.status, body};
}

// A view that answered 202 is a job: poll it, then ask again.
async function ready(url, statusElement) {
  for (;;) {
    const {status, body} = await api(url);
    if (status !== 202) return body;
    if (statusElement) statusElement.textContent = `${body.job.description}: ${body.job.message || "working"} (${body.job.done}/${body.job.total ?? "?"})`;
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

function drawFigures(root = document) {
  for (const div of $$("[data-figure]", root)) {
    const figure = JSON.parse(document.getElementById(div.dataset.figure).textContent);
    Plotly.newPlot(div, figure.data, figure.layout, CONFIG);
  }
}

function followJobs() {
  for (const box of $$(".job[data-job]")) {
    const bar = $(".job-bar", box), message = $(".job-message", box), count = $(".job-count", box);
    const poll = async () => {
      let job;
      try { job = (await api(`/api/jobs/${box.dataset.job}`)).body; } catch (error) { message.textContent = error.message; return; }
      if (job.total) { bar.max = job.total; bar.value = job.done; count.textContent = `${job.done} / ${job.total}`; }
      message.textContent = job.message;
      if (job.state === "done") { location.reload(); return; }
      if (job.state === "failed") { box.insertAdjacentHTML("beforeend", `<p class="alert">${escapeHtml(job.error)}</p>`); return; }
      setTimeout(poll, 600);
    };
    poll();
  }
}

function pairControls() {
  const form = $("#pair-form");
  if (!form) return;
  for (const select of $$("select", form)) select.addEventListener("change", () => form.submit());
  const pin = $("#pin-button");
  pin.addEventListener("click", async () => {
    const pinned = pin.dataset.pinned === "yes";
    await api(pinned ? "/api/pin" : `/api/pin?checkpoint=${encodeURIComponent(pin.dataset.checkpoint)}`,
              {method: pinned ? "DELETE" : "POST"});
    location.reload();
  });
}

// --- training -------------------------------------------------------------------------------------
function trainingPage() {
  const controls = $("#curve-controls");
  if (controls) {
    const load = async () => {
      const chosen = $$(".curve-check").filter((c) => c.checked).map((c) => c.value);
      if (!chosen.length) return;
      const query = new URLSearchParams({checkpoints: chosen.join(","), signal: $("#signal-select").value,
                                         baseline: controls.dataset.baseline, candidate: controls.dataset.candidate});
      try {
        const {body} = await api(`/api/training/curves?${query}`);
        await Plotly.react("curves", body.data, body.layout, CONFIG);
      } catch (error) { $("#curves").textContent = error.message; }
    };
    $("#signal-select").addEventListener("change", load);
    for (const check of $$(".curve-check")) check.addEventListener("change", load);
    $("#zoom-apply").addEventListener("click", () => {
      const from = Number($("#zoom-from").value), to = Number($("#zoom-to").value);
      if (Number.isFinite(from) && Number.isFinite(to) && to > from) Plotly.relayout("curves", {"xaxis.range": [from, to]});
    });
    $("#zoom-reset").addEventListener("click", () => Plotly.relayout("curves", {"xaxis.autorange": true, "yaxis.autorange": true}));
    load();
  }
  const scaling = $("#scaling");
  if (scaling) {
    const body = $("#scaling-body");
    ready(`/api/training/scaling?candidate=${encodeURIComponent(scaling.dataset.candidate)}`, body).then((view) => {
      body.innerHTML = view.message ? `<p class="note">${escapeHtml(view.message)}</p>` : "";
      if (view.figure) {
        body.insertAdjacentHTML("afterbegin", '<div class="figure"><div class="plot" id="scaling-plot"></div></div>');
        Plotly.newPlot("scaling-plot", view.figure.data, view.figure.layout, CONFIG);
      }
    }).catch((error) => { body.innerHTML = `<p class="alert">${escapeHtml(error.message)}</p>`; });
  }
}

// --- behavior -------------------------------------------------------------------------------------
function behaviorPage() {
  const section = $("#flips[data-baseline]");
  if (!section) return;
  const pair = {baseline: section.dataset.baseline, candidate: section.dataset.candidate};
  const onset = new URLSearchParams(location.search).get("onset");
  if (onset) $("#flip-onset").value = onset;
  const PAGE = 15;
  let offset = 0;
  const tbody = $("#flip-table tbody");
  const load = async (append = false) => {
    offset = append ? offset + PAGE : 0;
    const query = new URLSearchParams({...pair, offset, limit: PAGE});
    for (const [key, id] of [["task", "#flip-task"], ["direction", "#flip-direction"], ["onset", "#flip-onset"], ["q", "#flip-search"]]) {
      if ($(id).value) query.set(key, $(id).value);
    }
    let page;
    try { page = (await api(`/api/behavior/flips?${query}`)).body; } catch (error) { $("#flip-count").textContent = error.message; return; }
    if (!append) tbody.innerHTML = "";
    for (const row of page.items) {
      const tr = document.createElement("tr");
      tr.className = "flip-row";
      tr.dataset.key = [row.task, row.metric, row.item_id].join("|");
      tr.innerHTML = `<td>${escapeHtml(row.task)}</td><td><a href="#">${escapeHtml(row.item_id)}</a></td><td>${escapeHtml(row.direction)}</td>` +
        `<td>${escapeHtml(row.onset || "")}</td><td class="snippet">${escapeHtml(row.snippet)}</td>`;
      tr.addEventListener("click", (event) => { event.preventDefault(); openItem(row.task, row.metric, row.item_id); });
      tbody.appendChild(tr);
    }
    $("#flip-count").textContent = `${page.total} item${page.total === 1 ? "" : "s"} match`;
    $("#flip-more").hidden = offset + page.items.length >= page.total;
  };
  const openItem = async (task, metric, itemId) => {
    const box = $("#item-detail");
    const query = new URLSearchParams({...pair, task, metric, item_id: itemId});
    let item;
    try { item = (await api(`/api/behavior/item?${query}`)).body; } catch (error) { box.hidden = false; box.textContent = error.message; return; }
    const side = (name, s) => `<div class="side"><h4>${name}: ${escapeHtml(s.checkpoint)}</h4><p class="score">score ${escapeHtml(s.score)}</p>` +
      `<pre class="response">${escapeHtml(s.response ?? "(no response recorded)")}</pre></div>`;
    const attributes = Object.entries(item.attributes).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("");
    box.innerHTML = `<h3>${escapeHtml(item.task)} / ${escapeHtml(item.item_id)} (${escapeHtml(item.metric)})</h3>` +
      (item.onset ? `<p class="onset">flipped at <strong>${escapeHtml(item.onset)}</strong></p>` : "") +
      `<h4>prompt${item.prompt_field ? ` (${escapeHtml(item.prompt_field)})` : ""}</h4><pre class="prompt">${escapeHtml(item.prompt ?? "(no prompt recorded)")}</pre>` +
      (item.target ? `<p>target: <code>${escapeHtml(item.target)}</code></p>` : "") +
      `<div class="sides">${side("baseline", item.baseline)}${side("candidate", item.candidate)}</div>` +
      (attributes ? `<dl class="evidence">${attributes}</dl>` : "");
    box.hidden = false;
    box.scrollIntoView({block: "nearest"});
  };
  for (const id of ["#flip-task", "#flip-direction", "#flip-onset"]) $(id).addEventListener("change", () => load());
  let timer = null;
  $("#flip-search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => load(), 250); });
  $("#flip-more").addEventListener("click", () => load(true));
  load();
  const hash = decodeURIComponent(location.hash);
  if (hash.startsWith("#item=")) {
    const [task, metric, itemId] = hash.slice(6).split("|");
    openItem(task, metric, itemId);
  }
}

// --- transformer ----------------------------------------------------------------------------------
function transformerPage() {
  const form = $("#attention-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("#attention-status"), frame = $("#attention-frame");
    status.textContent = "running the model...";
    try {
      const {body} = await api(`/api/transformer/attention?checkpoint=${encodeURIComponent($("#attention-checkpoint").value)}`,
        {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({text: $("#attention-text").value})});
      frame.hidden = false;   // shown first: the page inside sizes its drawing to the frame
      frame.srcdoc = body.html;
      status.textContent = `${body.tokens.length} tokens, ${body.layers} layers x ${body.heads} heads`;
    } catch (error) { status.textContent = error.message; }
  });
}

// --- vision ---------------------------------------------------------------------------------------
function visionPage() {
  const root = $("#playground");
  if (!root) return;
  let image = null;
  const choose = (id) => {
    image = id;
    for (const thumb of $$(".thumb")) thumb.classList.toggle("chosen", thumb.dataset.image === id);
    explain();
  };
  const explain = async () => {
    const status = $("#explain-status"), grid = $("#map-grid");
    const methods = $$(".method-check").filter((c) => c.checked).map((c) => c.value);
    if (!image || !methods.length) { status.textContent = image ? "Pick at least one method." : "Pick an image."; return; }
    status.textContent = "computing the maps...";
    try {
      const {body} = await api(`/api/vision/explain?image=${image}&methods=${methods.join(",")}`);
      grid.innerHTML = `<figure><img src="/api/vision/image?image=${image}" alt="input"><figcaption>input</figcaption></figure>` +
        body.maps.map((m) => `<figure class="map"><img src="data:image/png;base64,${m.png}" alt="${escapeHtml(m.method)}"><figcaption>${escapeHtml(m.method)}</figcaption></figure>`).join("");
      status.textContent = `predicted ${body.class} (${(100 * body.probability).toFixed(1)}%)`;
    } catch (error) { status.textContent = error.message; }
    showChannel();
  };
  const showChannel = async () => {
    const layer = $("#layer-select").value, channel = $("#channel-input").value, status = $("#channel-status");
    status.textContent = "searching the zoo images...";
    try {
      const top = (await api(`/api/vision/top?layer=${encodeURIComponent(layer)}&channel=${channel}`)).body;
      $("#top-nine").src = `data:image/png;base64,${top.png}`;
      if (image) {
        const deconv = (await api(`/api/vision/deconv?image=${image}&layer=${encodeURIComponent(layer)}&channel=${channel}`)).body;
        $("#deconv-image").src = `data:image/png;base64,${deconv.png}`;
      }
      status.textContent = `${layer}, channel ${channel}`;
    } catch (error) { status.textContent = error.message; }
  };
  for (const thumb of $$(".thumb")) thumb.addEventListener("click", () => choose(thumb.dataset.image));
  $("#explain-go").addEventListener("click", explain);
  $("#channel-go").addEventListener("click", showChannel);
  $("#upload-input").addEventListener("change", async (event) => {
    const file = event.target.files[0], status = $("#upload-status");
    if (!file) return;
    status.textContent = `uploading ${file.name}...`;
    try {
      const {body} = await api("/api/vision/upload", {method: "POST", headers: {"Content-Type": file.type || "application/octet-stream"}, body: file});
      status.textContent = `uploaded ${file.name}`;
      choose(body.image);
    } catch (error) { status.textContent = error.message; }
  });
}

// Bundles that arrive while the page is open: say so (the server picks them up on its own).
function watchCheckpoints() {
  const shown = document.body.dataset.state;
  if (shown === undefined || document.body.dataset.page === "error") return;
  setInterval(async () => {
    try {
      const {body} = await api("/api/checkpoints");
      const now = body.checkpoints.map((c) => `${c.id}:${c.fingerprint}`).join(",");
      $("#new-checkpoints").hidden = now === shown;
    } catch (error) { /* the server may be restarting: try again later */ }
  }, 10_000);
}

document.addEventListener("DOMContentLoaded", () => {
  watchCheckpoints();
  drawFigures();
  followJobs();
  pairControls();
  trainingPage();
  behaviorPage();
  transformerPage();
  visionPage();
});
