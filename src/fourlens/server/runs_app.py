"""The dashboard over a runs directory: pages, the JSON API, and the guards around them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fourlens.errors import require
from fourlens.runs import RunsDirectory
from fourlens.server.jobs import Jobs
from fourlens.server.state import Dashboard
from fourlens.server.store import Store


def create_runs_app(runs: str | os.PathLike[str] | Dashboard, *, pinned: str | None = None,
                    allowed_hosts: Sequence[str] | None = None, inline: bool = False, store: Store | None = None,
                    reload_s: float = 2.0, debug: bool = False) -> Any:
    """A FastAPI app serving the runs directory `runs` (or a ready `Dashboard`).

    `pinned`: a checkpoint id to compare against by default. `allowed_hosts`: Host headers to accept
    (the loopback names when bound to 127.0.0.1, so a web page elsewhere cannot reach the dashboard
    through DNS rebinding); None accepts any. `inline`: compute views in the request instead of in the
    background (tests, benchmarks). `store`: the cache (default: the user cache directory)."""
    fastapi = require("fastapi", "serve", "fourlens serve")
    from fourlens.server.api import add_api_routes
    from fourlens.server.guards import BodyLimit, install_error_handlers
    from fourlens.server.pages import add_page_routes, error_html
    from fourlens.server.views.vision import Playground

    if isinstance(runs, Dashboard):
        dash = runs
    else:
        dash = Dashboard(RunsDirectory(runs, reload_s=reload_s), store=store or Store.default(),
                         jobs=Jobs(inline=inline, debug=debug), pinned=pinned)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        dash.jobs.shutdown()   # a job still running is abandoned with the process

    app = fastapi.FastAPI(title="fourlens dashboard", docs_url=None, redoc_url=None, openapi_url=None,
                          lifespan=lifespan)
    app.state.dashboard = dash
    install_error_handlers(app, error_html)
    playground = Playground(dash)
    add_api_routes(app, dash, playground)
    add_page_routes(app, dash, playground)
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(BodyLimit)
    return app
