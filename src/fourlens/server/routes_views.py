"""One place that names each view: its cache parts and the function that builds it, shared by the pages
and the JSON API, so a page and its /api/ route always show the same thing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fourlens.runs import Checkpoint
from fourlens.server.jobs import Progress
from fourlens.server.state import Dashboard, Outcome
from fourlens.server.views import behavior, data, overview, training, transformer

# page name -> (builder, description); every builder is (dash, baseline, candidate, progress) -> dict
PAIR_VIEWS: dict[str, tuple[Callable[..., dict], str]] = {
    "overview": (overview.build_overview, "overview: reading checkpoints, comparing, bisecting"),
    "training": (training.build_training, "training: comparing the runs' logs"),
    "behavior": (behavior.build_behavior, "behavior: comparing eval items and traces"),
    "data": (data.build_data, "data: comparing snapshots, scanning for eval items"),
    "transformer": (transformer.build_transformer, "representation: comparing weights and models"),
}


def pair_view(dash: Dashboard, name: str, base: Checkpoint, cand: Checkpoint) -> Outcome:
    build, description = PAIR_VIEWS[name]
    if name == "overview":
        parts = overview.overview_parts(dash, base, cand)
    else:
        parts = (name, base.id, cand.id, base.fingerprint, cand.fingerprint)
        if name == "transformer":
            parts += (tuple((c.id, c.fingerprint) for c in dash.loaded()),)
    return dash.view(name, parts, lambda progress: build(dash, base, cand, progress), description)


def report_view(dash: Dashboard, base: Checkpoint, cand: Checkpoint) -> Outcome:
    def build(progress: Progress) -> dict:
        return dash.report(base, cand, progress).to_dict()

    return dash.view("report", (base.fingerprint, cand.fingerprint), build, "triage: comparing two checkpoints")


def scaling_view(dash: Dashboard, cand: Checkpoint) -> Outcome:
    return dash.view("scaling", training.scaling_parts(dash, cand),
                     lambda progress: training.build_scaling(dash, cand, progress), "fitting the scaling law")


def vision_view(dash: Dashboard, playground: Any) -> Outcome:
    return dash.view("vision", ("setup",), playground.setup, "vision: loading the zoo model")
