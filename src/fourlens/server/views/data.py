"""The data page: the data lens's findings and figures (domain mix, token classes), and the eval items
found in the candidate's training data, with the matched span highlighted in the item's text."""

from __future__ import annotations

from fourlens.runs import Checkpoint
from fourlens.server import lens_calls
from fourlens.server.jobs import Progress
from fourlens.server.state import Dashboard
from fourlens.server.views.common import lens_figures, lens_findings

MAX_ITEMS = 200


def build_data(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    report = dash.report(base, cand, progress)
    out = {"findings": lens_findings(report, "data", base, cand), "figures": lens_figures(report, "data"),
           "contamination": None}
    if cand.bundle.has("data"):
        progress.say(f"scanning {cand.id}'s data for eval items")
        out["contamination"] = contaminated_items(cand)
    return out


def contaminated_items(cand: Checkpoint) -> dict:
    """`fourlens.data.contamination` of the candidate's data against the eval items the data lens uses,
    as rows with the item's text split around the longest matched span."""
    from fourlens.data import contamination, load_eval_sets

    files = lens_calls.contamination_eval_files(cand.bundle)
    if not files:
        return {"message": "no eval items to look for: the candidate has no lm-eval samples files and no "
                           "[options.data] contamination_evals", "settings": {}, "summary": [], "items": []}
    options = cand.bundle.lens_options("data")
    items = load_eval_sets(files)
    fields = lens_calls.data_fields(cand.bundle)
    result = contamination([str(p) for p in cand.bundle.paths("data")], items, n=int(options.get("n", 13)),
                           rule=str(options.get("rule", "any")), text_field=fields["text_field"])
    texts = {(str(r.eval_set), str(r.item_id)): str(r.text) for r in items.itertuples(index=False)}
    flagged = result.flagged.sort_values("overlap", ascending=False).head(MAX_ITEMS)
    rows = []
    for r in flagged.itertuples(index=False):
        evidence = r.evidence or {}
        text = texts.get((str(r.eval_set), str(r.item_id)), "")
        span = str(evidence.get("span", ""))
        at = text.find(span) if span else -1
        before, match, after = (text[:at], span, text[at + len(span):]) if at >= 0 else (text, "", "")
        rows.append({"eval_set": r.eval_set, "item_id": r.item_id, "overlap": float(r.overlap),
                     "category": r.category, "before": before, "match": match, "after": after,
                     "shard": evidence.get("shard"), "document": evidence.get("document")})
    return {"message": None, "settings": result.settings, "summary": result.summary().to_dict(orient="records"),
            "items": rows, "n_flagged": int(len(result.flagged))}
