"""The overview: the candidate against its baseline (ranked causes with their chains, where each began),
and a timeline of every checkpoint's capability, safety, agent latency and loss with 95% bands."""

from __future__ import annotations

import re
from collections import Counter

from fourlens.errors import BadInputError
from fourlens.runs import Checkpoint, finding_key, finding_onsets, flip_onsets, timeline_rows
from fourlens.server.jobs import Progress
from fourlens.server.plots import band_figure
from fourlens.server.state import Dashboard
from fourlens.server.store import cache_key
from fourlens.server.views.common import causes_with_chains, checkpoint_label, finding_view, set_aside

MAX_FLIPS_LISTED = 50


def overview_parts(dash: Dashboard, base: Checkpoint, cand: Checkpoint) -> tuple:
    return ("overview", base.id, cand.id, tuple((c.id, c.fingerprint, c.step) for c in dash.loaded()))


def build_overview(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    loaded = dash.loaded()
    progress.plan(sum(not dash.has_metrics(c) for c in loaded))
    points = []
    for checkpoint in loaded:
        fresh = not dash.has_metrics(checkpoint)
        points.append((checkpoint.id, checkpoint.step, dash.metrics(checkpoint)))
        if fresh:
            progress.step(f"read {checkpoint.id}")
    report = dash.report(base, cand, progress)
    progress.say("bisecting the runs directory")
    onsets = _finding_onsets(dash, report, base, cand, progress)
    flips = flip_summary(dash, base, cand, progress)
    aside = set_aside(report)
    causes = []
    order = {c.id: i for i, c in enumerate(loaded)}
    began = {f.id: onsets.get(finding_key(f)) for f in report.findings if getattr(f, "id", "")}
    for cause, chain in causes_with_chains(report):
        symptoms = []
        for depth, f in chain:
            view = {"depth": depth, **finding_view(f, base, cand, onsets.get(finding_key(f)))}
            # shown, not judged: a finding that began before the one ranked as its cause
            parent = began.get(view["explained_by"] or "")
            view["before_cause"] = bool(view["onset"] and parent and
                                        order[view["onset"]["checkpoint"]] < order[parent["checkpoint"]])
            symptoms.append(view)
        causes.append({**finding_view(cause, base, cand, onsets.get(finding_key(cause))), "chain": symptoms})
    return {
        "baseline": base.to_dict(), "candidate": cand.to_dict(), "title": report.title,
        "n_findings": len(report.findings), "causes": causes,
        "inconclusive": [finding_view(f, base, cand) for f in aside["inconclusive"]],
        "shared": [finding_view(f, base, cand) for f in aside["shared"]],
        "lenses": [s.to_dict() for s in report.lenses],
        "timeline": timeline_figures(loaded, points, base, cand, _panel_onsets(report, onsets)),
        "notes": [f"{cid}: {note}" for cid, _, metrics in points for note in metrics.get("notes", [])],
        "flips": flips,
    }


def _finding_onsets(dash: Dashboard, report, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    loaded = dash.loaded()
    bi, ci = dash.index(base), dash.index(cand)
    if bi >= ci:   # a baseline after the candidate: nothing lies in between to search
        return {}

    def lens_report(i: int, lens: str):
        if not dash.has_report(base, loaded[i], lens):
            progress.add(1)
            progress.say(f"bisecting: {loaded[i].id} vs {base.id} ({lens})")
            report_i = dash.report(base, loaded[i], lens=lens)
            progress.step()
            return report_i
        return dash.report(base, loaded[i], lens=lens)

    found = finding_onsets(report.findings, bi, ci, lens_report)
    return {key: _where(loaded[index]) if index is not None else None for key, index in found.items()}


def panel_of(finding) -> str | None:
    """Which timeline panel shows what a finding is about: capability, safety, latency or loss."""
    kind, title = finding.kind, finding.title.lower()
    if finding.lens == "training":
        return "loss"
    if finding.lens != "behavior":
        return None
    if kind == "behavior.safety_regression" or (not kind and ("safety" in title or "attack" in title)):
        return "safety"
    if kind in ("behavior.latency", "behavior.tool_latency") or (not kind and "latency" in title):
        return "latency"
    return "capability" if kind in ("", "behavior.task_regression") else None


def _panel_onsets(report, onsets: dict) -> dict[str, list[dict]]:
    """Per panel, where its findings began: {"capability": [{"checkpoint", "label"}], ...}."""
    panels: dict[str, list[dict]] = {}
    for finding in report.findings:
        where, panel = onsets.get(finding_key(finding)), panel_of(finding)
        if where and panel and all(m["checkpoint"] != where["checkpoint"] for m in panels.get(panel, [])):
            words = re.split(r"\s[-+]?\d", finding.title, maxsplit=1)[0][:40]   # the title before its numbers
            panels.setdefault(panel, []).append({"checkpoint": where["checkpoint"], "label": f"{words} began"})
    return panels


def _where(checkpoint: Checkpoint) -> dict:
    return {"checkpoint": checkpoint.id, "step": checkpoint.step, "label": checkpoint_label(checkpoint)}


def flip_onset_map(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress | None = None) -> dict:
    """{"task\\tmetric\\titem_id": checkpoint id where it flipped} for every item that flipped between the
    baseline and the candidate (bisected per item; cached per the bundles in between)."""
    loaded = dash.loaded()
    bi, ci = dash.index(base), dash.index(cand)
    between = tuple(c.fingerprint for c in loaded[min(bi, ci):max(bi, ci) + 1])
    key = cache_key("flip-onsets", base.id, cand.id, between)
    cached = dash.store.get(key)
    if cached is not None:
        return cached
    comparison = dash.comparison(base, cand)
    if comparison is None or bi >= ci:
        return dash.store.put(key, {})
    flips = comparison.flips
    items = [((r.task, r.metric, r.item_id), float(r.score_b)) for r in flips.itertuples(index=False)]

    def scores_at(i: int) -> dict:
        if progress is not None:
            progress.say(f"bisecting flipped items: reading {loaded[i].id}")
        evals = dash.evals(loaded[i])
        if evals is None:
            return {}
        table = evals.items
        return dict(zip(zip(table["task"], table["metric"], table["item_id"], strict=True),
                        table["score"].astype(float), strict=True))

    found = flip_onsets(items, bi, ci, scores_at)
    return dash.store.put(key, {"\t".join(k): loaded[i].id for k, i in found.items() if i is not None})


def flip_summary(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    """How many items flipped, per checkpoint where they flipped, and the first few with their onset."""
    try:
        comparison = dash.comparison(base, cand)
    except BadInputError as exc:
        return {"error": str(exc), "n": 0, "by_checkpoint": [], "items": []}
    if comparison is None:
        return {"error": None, "n": 0, "by_checkpoint": [], "items": []}
    onsets = flip_onset_map(dash, base, cand, progress)
    flips = comparison.flips
    counts = Counter(onsets.values())
    order = [c.id for c in dash.loaded()]
    rows = []
    for r in flips.head(MAX_FLIPS_LISTED).itertuples(index=False):
        rows.append({"task": r.task, "metric": r.metric, "item_id": r.item_id, "direction": r.direction,
                     "score_a": float(r.score_a), "score_b": float(r.score_b),
                     "onset": onsets.get(f"{r.task}\t{r.metric}\t{r.item_id}")})
    return {"error": None, "n": int(len(flips)),
            "right_to_wrong": int((flips["direction"] == "right->wrong").sum()) if len(flips) else 0,
            "by_checkpoint": [{"checkpoint": cid, "count": counts[cid]} for cid in order if counts.get(cid)],
            "items": rows}


def timeline_figures(loaded: tuple[Checkpoint, ...], points: list, base: Checkpoint, cand: Checkpoint,
                     onsets: dict[str, list[dict]]) -> dict:
    """Capability per task, safety per attack, agent latency and loss over the checkpoints, with bands;
    the baseline, the candidate and where each panel's findings began are marked."""
    rows = timeline_rows(points)
    by_step = all(c.step is not None for c in loaded)
    x_of = {c.id: (c.step if by_step else c.id) for c in loaded}
    x_title = "step" if by_step else "checkpoint"
    pair = [{"x": x_of[base.id], "label": f"baseline {base.id}", "colour": "#0072B2"},
            {"x": x_of[cand.id], "label": f"candidate {cand.id}", "colour": "#D55E00"}]

    def marks_for(panel: str) -> list[dict]:
        began = [{"x": x_of[o["checkpoint"]], "label": o["label"], "colour": "#CC79A7", "dash": "dash"}
                 for o in onsets.get(panel, []) if o["checkpoint"] not in (base.id, cand.id)]
        return pair + began

    def grouped(table: list[dict], name_of, value: str = "score") -> list[dict]:
        series: dict[str, dict] = {}
        for row in table:
            one = series.setdefault(name_of(row), {"name": name_of(row), "x": [], "y": [], "low": [], "high": []})
            one["x"].append(x_of[row["checkpoint"]])
            one["y"].append(row[value])
            one["low"].append(row["ci_low"])
            one["high"].append(row["ci_high"])
        return list(series.values())

    figures = {}
    if rows["capability"]:
        def task_name(row: dict) -> str:
            return row["task"] if row["metric"] in ("score", "acc") else f"{row['task']} ({row['metric']})"

        figures["capability"] = band_figure("Capability per task", "score", grouped(rows["capability"], task_name),
                                            x_title, marks_for("capability"))
    if rows["safety"]:
        figures["safety"] = band_figure("Safety: attack success per attack", "attack success rate",
                                        grouped(rows["safety"], lambda r: r["attack"]), x_title,
                                        marks_for("safety"))
    if rows["latency"]:
        figures["latency"] = band_figure("Agent latency (mean per request)", "seconds",
                                         grouped(rows["latency"], lambda r: "mean latency", "mean_s"), x_title,
                                         marks_for("latency"))
    if rows["loss"]:
        figures["loss"] = band_figure("Training loss at each checkpoint (last 5% of its log)", "loss",
                                      grouped(rows["loss"], lambda r: "loss", "value"), x_title,
                                      marks_for("loss"))
    return figures
