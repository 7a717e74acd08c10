"""Server-side pages: `/` overview, `/training`, `/behavior`, `/data`, `/transformer`, `/vision`.

Each page is rendered from the same view as its /api/ route. A view still computing renders as a
progress bar that follows its job and reloads the page when it is done; figures are drawn by the
plotly.js the server ships from the installed plotly package (/static/plotly.min.js: no CDN).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from fourlens.errors import FourlensError
from fourlens.server.guards import checkpoint_id, status_of
from fourlens.server.routes_views import pair_view, vision_view
from fourlens.server.state import ConflictError, Dashboard
from fourlens.server.views.common import checkpoint_label, pair_query

PAGES = (("/", "overview", "Overview"), ("/training", "training", "Training"), ("/behavior", "behavior", "Behavior"),
         ("/data", "data", "Data"), ("/transformer", "transformer", "Transformer"), ("/vision", "vision", "Vision"))
STATIC = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    import jinja2

    from fourlens.report.html import format_number

    env = jinja2.Environment(loader=jinja2.PackageLoader("fourlens.server", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["number"] = format_number
    env.filters["tojson_safe"] = lambda value: json.dumps(value, separators=(",", ":")).replace("</", "<\\/")
    return env


@functools.lru_cache(maxsize=1)
def plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


@functools.lru_cache(maxsize=4)
def static_file(name: str) -> bytes:
    return resources.files("fourlens.server").joinpath("static", name).read_bytes()


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(pages=PAGES, **context)


def error_html(status: int, message: str) -> str:
    return render("error.html.j2", status=status, message=message, page="error", checkpoints=[], base=None,
                  problem=None, cand=None, pinned=None, query="")


def add_page_routes(app: Any, dash: Dashboard, playground: Any) -> None:
    from fastapi.responses import HTMLResponse, Response


    def page(name: str, baseline: str | None, candidate: str | None) -> Any:
        checkpoints = dash.checkpoints()
        context = {"page": name, "checkpoints": checkpoints, "pinned": dash.pinned, "root": dash.runs.root.name,
                   "label": checkpoint_label, "base": None, "cand": None, "query": "", "outcome": None,
                   "problem": None, "ignored": dash.runs.ignored()}
        try:
            base, cand = dash.pair(baseline, candidate)
        except ConflictError as exc:   # nothing to compare yet: the page says why and refreshes
            context["problem"] = str(exc)
            return HTMLResponse(render(f"{name}.html.j2", **context))
        except FourlensError as exc:
            return HTMLResponse(error_html(status_of(exc), str(exc)), status_code=status_of(exc))
        context.update(base=base, cand=cand, query=pair_query(base, cand), outcome=pair_view(dash, name, base, cand))
        return HTMLResponse(render(f"{name}.html.j2", **context))

    for path, name, _title in PAGES[:-1]:
        def route(baseline: str | None = checkpoint_id(), candidate: str | None = checkpoint_id(),
                  _name: str = name) -> Any:
            return page(_name, baseline, candidate)

        app.add_api_route(path, route, methods=["GET"], response_class=HTMLResponse, name=f"page_{name}")

    @app.get("/vision", response_class=HTMLResponse)
    def vision(baseline: str | None = checkpoint_id(), candidate: str | None = checkpoint_id()) -> Any:
        query = ""
        try:
            base, cand = dash.pair(baseline, candidate)
            query = pair_query(base, cand)
        except FourlensError:
            base = cand = None   # the playground needs no checkpoints
        return HTMLResponse(render("vision.html.j2", page="vision", checkpoints=dash.checkpoints(), pinned=dash.pinned,
                                   root=dash.runs.root.name, label=checkpoint_label, base=base, cand=cand,
                                   query=query, outcome=vision_view(dash, playground), problem=None))

    @app.get("/static/plotly.min.js")
    def plotly() -> Any:
        return Response(plotly_js(), media_type="application/javascript", headers={"Cache-Control": "max-age=86400"})

    for name, media in STATIC.items():
        def serve_static(_name: str = name, _media: str = media) -> Any:
            return Response(static_file(_name), media_type=_media)

        app.add_api_route(f"/static/{name}", serve_static, methods=["GET"], name=f"static_{name}")
