"""Serving: one report (`/` its page, `/api/report` its JSON), or a runs directory (`fourlens.server.runs_app`).

The socket is bound before anything is printed, so a port that is taken is one clear error instead of
a "dashboard on ..." line followed by uvicorn's failure. Binding anything but a loopback address
exposes the dashboard to the network (it has no login): the caller is warned.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Any

from fourlens.errors import BadInputError, require
from fourlens.report import Report

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_app(report: Report) -> Any:
    """A FastAPI app over `report`; rendering happens once, at creation."""
    fastapi = require("fastapi", "serve", "fourlens serve")
    responses = require("fastapi.responses", "serve", "fourlens serve")
    page = report.to_html()
    payload = report.to_dict()
    app = fastapi.FastAPI(title="fourlens", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=responses.HTMLResponse)
    def index() -> Any:
        return responses.HTMLResponse(page)

    @app.get("/api/report")
    def report_json() -> Any:
        return responses.JSONResponse(payload)

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or one BadInputError when the port is taken or not allowed."""
    if not 0 < port < 65536:
        raise BadInputError(f"--port must be between 1 and 65535; got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BadInputError(f"--host {host}: not an address this machine can bind ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BadInputError(f"port {port} on {host} is already in use (another dashboard?); pick a free one "
                                "with --port") from None
        raise BadInputError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or "
                            "--host") from None
    sock.set_inheritable(True)
    return sock


def exposure_warning(host: str) -> str | None:
    """The warning for a host other than loopback, else None."""
    if host in LOOPBACK:
        return None
    return (f"warning: --host {host} makes the dashboard reachable from other machines; it has no login and "
            "shows everything in the bundles it serves. Use 127.0.0.1 (the default) unless you mean that.")


def _run(app: Any, sock: socket.socket, host: str, port: int) -> None:
    uvicorn = require("uvicorn", "serve", "fourlens serve")
    shown = f"[{host}]" if ":" in host else host
    print(f"fourlens dashboard on http://{shown}:{port}/ (Ctrl+C to stop)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])


def serve(report: Report, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve one report until interrupted."""
    require("uvicorn", "serve", "fourlens serve")
    sock = bind(host, port)
    if (warning := exposure_warning(host)) is not None:
        print(warning, file=sys.stderr)
    _run(create_app(report), sock, host, port)


def serve_runs(runs_dir: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8765,
               pinned: str | None = None, reload_s: float = 2.0, debug: bool = False) -> None:
    """Serve the dashboard over a runs directory until interrupted."""
    from fourlens.runs import RunsDirectory
    from fourlens.server.runs_app import create_runs_app
    from fourlens.server.state import Dashboard

    require("uvicorn", "serve", "fourlens serve")
    runs = RunsDirectory(runs_dir, reload_s=reload_s)
    checkpoints = runs.checkpoints()
    if checkpoints and not any(c.ok for c in checkpoints):
        raise BadInputError(runs.problem() or f"{runs_dir} holds no bundles")
    if pinned is not None and runs.get(pinned) is None:
        known = ", ".join(c.id for c in checkpoints[-8:]) or "none yet"
        raise BadInputError(f"--baseline {pinned}: no such checkpoint in {runs.root} (latest: {known})")
    sock = bind(host, port)
    if (warning := exposure_warning(host)) is not None:
        print(warning, file=sys.stderr)
    if not checkpoints:
        print(f"{runs.problem()}; the dashboard shows them as they arrive", file=sys.stderr)
    for failed in (c for c in checkpoints if not c.ok):
        print(f"note: {failed.root.name} is not served: {failed.error}", file=sys.stderr)
    from fourlens.server.jobs import Jobs
    from fourlens.server.store import Store

    allowed = None if exposure_warning(host) else [*LOOPBACK, f"[{'::1'}]"]
    dash = Dashboard(runs, store=Store.default(), jobs=Jobs(debug=debug), pinned=pinned)
    _run(create_runs_app(dash, allowed_hosts=allowed), sock, host, port)
