"""The behavior page: paired differences per task (forest plot), the items that flipped (filter, search,
each with its prompt and both responses side by side), safety by attack x category, and agent latency
(the waterfall of what made it slower, and the slowest traces)."""

from __future__ import annotations

import math

import pandas as pd

from fourlens.errors import BadInputError
from fourlens.runs import Checkpoint
from fourlens.server.jobs import Progress
from fourlens.server.plots import figure_json, heatmap_figure
from fourlens.server.state import Dashboard, NotFoundError
from fourlens.server.views.common import lens_findings
from fourlens.server.views.overview import flip_onset_map

PROMPT_COLUMNS = ("prompt", "question", "input", "problem", "goal", "forbidden_prompt", "instruction", "text",
                  "doc_text", "context")
RESPONSE_COLUMNS = ("response", "output", "completion", "generation")
TARGET_COLUMNS = ("target", "answer", "label", "reference")
TABLE = ["task", "metric", "n", "score_a", "score_b", "diff", "ci_low", "ci_high", "p_adjusted", "significant",
         "test"]
SLOWEST = 15


def build_behavior(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    report = dash.report(base, cand, progress)
    out: dict = {"findings": lens_findings(report, "behavior", base, cand), "forest": None, "table": [],
                 "flips": None, "safety": None, "latency": None, "errors": []}
    progress.say("comparing eval items")
    try:
        comparison = dash.comparison(base, cand)
    except BadInputError as exc:
        comparison = None
        out["errors"].append(f"evals not compared: {exc}")
    if comparison is not None:
        from fourlens.behavior.figures import forest_figure

        out["forest"] = figure_json(forest_figure(comparison, base.id, cand.id))
        out["table"] = comparison.table[TABLE].to_dict(orient="records")
        flips = comparison.flips
        onsets = flip_onset_map(dash, base, cand, progress)
        out["flips"] = {"n": int(len(flips)), "tasks": sorted(set(flips["task"])) if len(flips) else [],
                        "directions": sorted(set(flips["direction"])) if len(flips) else [],
                        "onsets": sorted(set(onsets.values()))}
        out["safety"] = _safety(comparison)
    if base.bundle.has("agent_traces") and cand.bundle.has("agent_traces"):
        progress.say("comparing agent latency")
        try:
            out["latency"] = _latency(dash, base, cand)
        except BadInputError as exc:
            out["errors"].append(f"agent traces not compared: {exc}")
    return out


def _safety(comparison) -> dict | None:
    from fourlens.behavior import safety_table

    table = safety_table(comparison)
    if table.empty:
        return None
    rows = table.drop(columns=[c for c in ("paired",) if c in table]).to_dict(orient="records")
    cells = table[table["column"] == "attack+category"]
    figure = None
    if len(cells):
        split = cells["value"].str.split("/", n=1, expand=True)
        attacks, categories = sorted(set(split[0])), sorted(set(split[1]))
        diff = {(a, c): d for a, c, d in zip(split[0], split[1], cells["diff"], strict=True)}
        z = [[_finite(diff.get((a, c))) for c in categories] for a in attacks]
        figure = heatmap_figure("Change in attack success: attack x harm category (candidate - baseline)",
                                categories, attacks, z, "harm category", "attack", "change")
    return {"rows": rows, "figure": figure}


def _latency(dash: Dashboard, base: Checkpoint, cand: Checkpoint) -> dict:
    from fourlens.behavior import compare_latency, load_traces

    traces_a, traces_b = (dash.cached_object(("traces", c.fingerprint),
                                             lambda c=c: load_traces(c.bundle.paths("agent_traces")))
                          for c in (base, cand))
    options = cand.bundle.lens_options("behavior")
    result = compare_latency(traces_a, traces_b, alpha=float(options.get("alpha", 0.05)))
    requests = traces_b.requests.sort_values("latency_s", ascending=False).head(SLOWEST)
    causes = {}
    if "request_id" in result.tail_drivers and "cause" in result.tail_drivers:
        causes = dict(zip(result.tail_drivers["request_id"].astype(str), result.tail_drivers["cause"], strict=True))
    columns = [c for c in ("request_id", "latency_s", "ttft_s", "decode_s", "output_tokens", "n_tool_calls",
                           "tool_s", "n_retries", "retry_s", "error") if c in requests]
    slowest = [{**row, "cause": causes.get(str(row.get("request_id")))}
               for row in requests[columns].to_dict(orient="records")]
    return {"figures": [figure_json(f) for f in result.figures()], "summary": result.summary.to_dict(orient="records"),
            "slowest": slowest}


def _finite(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _first(row: pd.Series | dict, columns: tuple[str, ...]) -> tuple[str | None, str | None]:
    for column in columns:
        value = row.get(column)
        if value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value).strip():
            return column, str(value)
    return None, None


def flipped_items(dash: Dashboard, base: Checkpoint, cand: Checkpoint, task: str | None, direction: str | None,
                  query: str | None, onset: str | None, offset: int, limit: int) -> dict:
    """The flipped items that pass the filters, a page of them, with a prompt snippet and their onset."""
    comparison = dash.comparison(base, cand)
    if comparison is None:
        raise NotFoundError(f"{base.id} and {cand.id} do not both have eval results")
    flips = comparison.flips
    onsets = flip_onset_map(dash, base, cand)
    keys = flips["task"] + "\t" + flips["metric"] + "\t" + flips["item_id"]
    keep = pd.Series(True, index=flips.index)
    if task:
        keep &= flips["task"] == task
    if direction:
        keep &= flips["direction"] == direction
    if onset:
        keep &= keys.map(onsets.get) == onset
    texts = _texts(dash, cand, flips)
    if query:
        needle = query.lower()
        keep &= (flips["item_id"].str.lower().str.contains(needle, regex=False)
                 | texts.str.lower().str.contains(needle, regex=False))
    chosen = flips[keep]
    rows = []
    for index, r in chosen.iloc[offset:offset + limit].iterrows():
        rows.append({"task": r["task"], "metric": r["metric"], "item_id": r["item_id"], "direction": r["direction"],
                     "score_a": float(r["score_a"]), "score_b": float(r["score_b"]),
                     "snippet": texts.loc[index][:160], "onset": onsets.get(keys.loc[index])})
    return {"total": int(len(chosen)), "offset": offset, "limit": limit, "items": rows}


def _texts(dash: Dashboard, cand: Checkpoint, flips: pd.DataFrame) -> pd.Series:
    """Per flipped item, its prompt and the candidate's response, for search and snippets."""
    evals = dash.evals(cand)
    table = evals.items.set_index(["task", "metric", "item_id"])
    found = table.reindex(pd.MultiIndex.from_frame(flips[["task", "metric", "item_id"]]))
    parts = [found[c].astype(str).where(found[c].notna(), "") for c in PROMPT_COLUMNS + RESPONSE_COLUMNS
             if c in found]
    if not parts:
        return pd.Series("", index=flips.index)
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + " " + part
    return pd.Series(joined.to_numpy(), index=flips.index).str.strip()


def item_detail(dash: Dashboard, base: Checkpoint, cand: Checkpoint, task: str, metric: str, item_id: str) -> dict:
    """One item side by side: its prompt and target, each checkpoint's response and score, its other
    attributes, and the checkpoint where it flipped."""
    sides = {}
    for name, checkpoint in (("baseline", base), ("candidate", cand)):
        evals = dash.evals(checkpoint)
        if evals is None:
            raise NotFoundError(f"{checkpoint.id} has no eval results")
        items = evals.items
        match = items[(items["task"] == task) & (items["metric"] == metric) & (items["item_id"] == item_id)]
        if match.empty:
            raise NotFoundError(f"{checkpoint.id} has no item {item_id!r} in task {task!r} ({metric})")
        sides[name] = match.iloc[0]
    a, b = sides["baseline"], sides["candidate"]
    prompt_column, prompt = _first(a, PROMPT_COLUMNS)
    _, target = _first(a, TARGET_COLUMNS)
    skip = set(PROMPT_COLUMNS + RESPONSE_COLUMNS + TARGET_COLUMNS) | {"task", "metric", "item_id", "score"}
    attributes = {k: str(v) for k, v in a.items() if k not in skip and v is not None and str(v) not in ("", "nan")}
    onsets = flip_onset_map(dash, base, cand)
    return {"task": task, "metric": metric, "item_id": item_id, "prompt": prompt, "prompt_field": prompt_column,
            "target": target, "attributes": attributes, "onset": onsets.get(f"{task}\t{metric}\t{item_id}"),
            "baseline": {"checkpoint": base.id, "score": float(a["score"]), "response": _first(a, RESPONSE_COLUMNS)[1]},
            "candidate": {"checkpoint": cand.id, "score": float(b["score"]),
                          "response": _first(b, RESPONSE_COLUMNS)[1]}}
