"""The JSON API under /api/ (documented in docs/dashboard.md and listed at /api). The pages use it.

Views that take long answer 202 with a job while they compute ({"status": "pending", "job": {...}}),
then 200 with the value ({"status": "ready", ...}); poll /api/jobs/<id> for progress. Errors are
{"error": message, "status": code}: 400 bad input, 404 unknown id, 409 not possible in the runs
directory's current state (or a computation that failed), 413 body too large, 422 malformed parameters.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request  # imported with the serve extra only: this module loads when serving

from fourlens.errors import BadInputError
from fourlens.server.guards import ID_PATTERN, MAX_BODY_BYTES, MAX_UPLOAD_BYTES, checkpoint_id, parse_ids, read_body
from fourlens.server.routes_views import pair_view, report_view, scaling_view, vision_view
from fourlens.server.state import ConflictError, Dashboard, NotFoundError, Outcome
from fourlens.server.views import behavior, training, transformer

ROUTES = [
    ("GET", "/api", "this list"),
    ("GET", "/api/checkpoints", "every checkpoint (id, name, step, ok, error, evidence counts), the pinned baseline"),
    ("POST", "/api/pin?checkpoint=ID", "pin a baseline (DELETE /api/pin unpins)"),
    ("GET", "/api/overview?baseline=ID&candidate=ID", "causes with chains and onsets, timeline figures, flips"),
    ("GET", "/api/report?baseline=ID&candidate=ID", "the triage Report JSON of two checkpoints"),
    ("GET", "/api/jobs/JOB", "a background job's state and progress"),
    ("GET", "/api/training?baseline=ID&candidate=ID", "training findings, signals, checkpoints with logs"),
    ("GET", "/api/training/curves?checkpoints=ID,ID&signal=loss", "curves overlaid, findings marked (plotly)"),
    ("GET", "/api/training/scaling?candidate=ID", "the scaling-law plot (RUNS_DIR/scaling_runs.csv)"),
    ("GET", "/api/behavior?baseline=ID&candidate=ID", "forest plot, task table, flips, safety, latency"),
    ("GET", "/api/behavior/flips?baseline=ID&candidate=ID&task=&direction=&onset=&q=&offset=0&limit=50",
     "flipped items, filtered and searched"),
    ("GET", "/api/behavior/item?baseline=ID&candidate=ID&task=T&metric=M&item_id=I",
     "one item: prompt, both responses and scores"),
    ("GET", "/api/data?baseline=ID&candidate=ID", "data findings and figures, contaminated items with spans"),
    ("GET", "/api/transformer?baseline=ID&candidate=ID", "representation findings and figures"),
    ("POST", "/api/transformer/attention?checkpoint=ID", "body {\"text\": ...}: the attention view (HTML)"),
    ("GET", "/api/vision", "playground setup: methods, classes, layers, gallery size"),
    ("GET", "/api/vision/image?image=g0", "a gallery image or upload as PNG"),
    ("POST", "/api/vision/upload", "body: a PNG or JPEG (at most 4 MiB); returns its image id"),
    ("GET", "/api/vision/explain?image=g0&methods=saliency,grad_cam", "prediction and one map per method"),
    ("GET", "/api/vision/top?layer=L&channel=C", "a channel's top-9 crops with deconvnet reconstructions"),
    ("GET", "/api/vision/deconv?image=g0&layer=L&channel=C", "a channel's deconvnet projection of the image"),
]
TEXT = 500   # the longest task / metric / item id / search text a query may carry


def outcome_response(outcome: Outcome) -> Any:
    from fastapi.responses import JSONResponse

    if outcome.status == "ready":
        return JSONResponse({"status": "ready", **outcome.value})
    if outcome.status == "pending":
        return JSONResponse({"status": "pending", "job": outcome.job.to_dict()}, status_code=202)
    return JSONResponse({"status": "failed", "error": outcome.error, "job": outcome.job.to_dict()}, status_code=409)


def add_api_routes(app: Any, dash: Dashboard, playground: Any) -> None:
    from fastapi import Query
    from fastapi.responses import JSONResponse, Response


    @app.get("/api")
    def api_index() -> Any:
        return {"routes": [{"method": m, "path": p, "description": d} for m, p, d in ROUTES]}

    @app.get("/api/checkpoints")
    def checkpoints() -> Any:
        return {"root": dash.runs.root.name, "problem": dash.runs.problem(), "pinned": dash.pinned,
                "checkpoints": [c.to_dict() for c in dash.checkpoints()], "ignored": list(dash.runs.ignored())}

    @app.post("/api/pin")
    def pin(checkpoint: str = Query(..., pattern=ID_PATTERN)) -> Any:
        dash.pinned = dash.checkpoint(checkpoint).id
        return {"pinned": dash.pinned}

    @app.delete("/api/pin")
    def unpin() -> Any:
        dash.pinned = None
        return {"pinned": None}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> Any:
        found = dash.jobs.get(job_id) if len(job_id) < 20 else None
        if found is None:
            raise NotFoundError(f"no job {job_id[:20]!r} (jobs are kept while the dashboard runs)")
        return found.to_dict()

    for name in ("overview", "training", "behavior", "data", "transformer"):
        def route(baseline: str | None = checkpoint_id(), candidate: str | None = checkpoint_id(),
                  _name: str = name) -> Any:
            base, cand = dash.pair(baseline, candidate)
            return outcome_response(pair_view(dash, _name, base, cand))

        app.add_api_route(f"/api/{name}", route, methods=["GET"], name=f"api_{name}")

    @app.get("/api/report")
    def report(baseline: str | None = checkpoint_id(), candidate: str | None = checkpoint_id()) -> Any:
        base, cand = dash.pair(baseline, candidate)
        outcome = report_view(dash, base, cand)
        if outcome.status == "ready":
            return JSONResponse(outcome.value)
        return outcome_response(outcome)

    @app.get("/api/training/curves")
    def curves(checkpoints: str = Query(..., max_length=8_000), signal: str = Query("loss", pattern=ID_PATTERN),
               baseline: str | None = checkpoint_id(), candidate: str | None = checkpoint_id()) -> Any:
        chosen = [dash.checkpoint(cid) for cid in parse_ids(checkpoints, "checkpoints", training.MAX_CURVES)]
        if not chosen:
            raise BadInputError("checkpoints: name at least one checkpoint id")
        marks: list[dict] = []
        if baseline and candidate:
            base, cand = dash.pair(baseline, candidate)
            if dash.has_report(base, cand):
                marks = [f.to_dict() for f in dash.report(base, cand).findings if f.lens == "training"]
        return training.curves_figure(dash, chosen, signal, marks)

    @app.get("/api/training/scaling")
    def scaling(candidate: str | None = checkpoint_id()) -> Any:
        cand = dash.checkpoint(candidate) if candidate else _latest(dash)
        return outcome_response(scaling_view(dash, cand))

    @app.get("/api/behavior/flips")
    def flips(baseline: str | None = checkpoint_id(), candidate: str | None = checkpoint_id(),
              task: str | None = Query(None, max_length=TEXT),
              direction: str | None = Query(None, pattern="^(right->wrong|wrong->right)$"),
              onset: str | None = checkpoint_id(), q: str | None = Query(None, max_length=TEXT),
              offset: int = Query(0, ge=0, le=10_000_000), limit: int = Query(50, ge=1, le=500)) -> Any:
        base, cand = dash.pair(baseline, candidate)
        return behavior.flipped_items(dash, base, cand, task, direction, q, onset, offset, limit)

    @app.get("/api/behavior/item")
    def item(task: str = Query(..., max_length=TEXT), metric: str = Query(..., max_length=TEXT),
             item_id: str = Query(..., max_length=TEXT), baseline: str | None = checkpoint_id(),
             candidate: str | None = checkpoint_id()) -> Any:
        base, cand = dash.pair(baseline, candidate)
        return behavior.item_detail(dash, base, cand, task, metric, item_id)

    @app.post("/api/transformer/attention")
    async def attention(request: Request, checkpoint: str | None = checkpoint_id()) -> Any:
        raw = await read_body(request, MAX_BODY_BYTES)
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise BadInputError('the body must be JSON: {"text": "..."}') from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise BadInputError('the body must be JSON with a "text" string: {"text": "..."}')
        target = dash.checkpoint(checkpoint) if checkpoint else _latest(dash)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(transformer.attention_view, dash, target, body["text"])

    @app.get("/api/vision")
    def vision() -> Any:
        return outcome_response(vision_view(dash, playground))

    @app.get("/api/vision/image")
    def vision_image(image: str = Query(..., max_length=40)) -> Any:
        import base64

        return Response(base64.b64decode(playground.png(image)), media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/vision/upload")
    async def upload(request: Request) -> Any:
        data = await read_body(request, MAX_UPLOAD_BYTES)
        if not data:
            raise BadInputError("the upload is empty; send the image file as the request body")
        return {"image": playground.add_upload(data, request.headers.get("content-type", ""))}

    @app.get("/api/vision/explain")
    def explain(image: str = Query(..., max_length=40), methods: str = Query(..., max_length=400)) -> Any:
        return playground.explain(image, [m.strip() for m in methods.split(",") if m.strip()])

    @app.get("/api/vision/top")
    def top(layer: str = Query(..., pattern=ID_PATTERN), channel: int = Query(..., ge=0, le=100_000)) -> Any:
        return playground.top_nine(layer, channel)

    @app.get("/api/vision/deconv")
    def deconv(image: str = Query(..., max_length=40), layer: str = Query(..., pattern=ID_PATTERN),
               channel: int = Query(..., ge=0, le=100_000)) -> Any:
        return playground.deconvnet(image, layer, channel)


def _latest(dash: Dashboard) -> Any:
    loaded = dash.loaded()
    if not loaded:
        raise ConflictError(dash.runs.problem() or "no checkpoint could be loaded")
    return loaded[-1]
