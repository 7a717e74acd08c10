"""What stands between the network and the dashboard: body-size limits, the Host check, and one clear
4xx message (never a traceback) for bad ids, malformed parameters, unknown routes and oversized bodies.

No route takes a filesystem path: checkpoints, images and layers are named by ids the dashboard
itself listed, matched against a strict pattern before any lookup."""

from __future__ import annotations

from typing import Any

from fourlens.errors import BadInputError, FourlensError
from fourlens.server.state import ConflictError, NotFoundError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,159}$"
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_BODY_BYTES = 64 * 1024
UPLOAD_PATHS = ("/api/vision/upload",)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class BodyLimit:
    """ASGI middleware: a body whose Content-Length is over the route's limit is refused with a 413 before
    it is read (routes that read a body also count it as it streams: `read_body`)."""

    def __init__(self, app: Any, max_upload: int = MAX_UPLOAD_BYTES, max_body: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_upload, self.max_body = app, max_upload, max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if scope["path"] in UPLOAD_PATHS else self.max_body
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _json(send, 400, "Content-Length is not a number")
                return
            if size > limit:
                await _json(send, 413, f"the request body is {size:,} bytes; this route takes at most {limit:,}")
                return
        await self.app(scope, receive, send)


class BodyTooLargeError(FourlensError):
    """A body that streams past its route's limit without declaring its length: HTTP 413."""


async def read_body(request: Any, limit: int) -> bytes:
    """The request body, read in chunks and refused once it passes `limit` bytes (chunked uploads
    declare no Content-Length, so the middleware cannot refuse them up front)."""
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLargeError(f"the request body is over {limit:,} bytes, the most this route takes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(send: Any, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": message, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def status_of(exc: Exception) -> int:
    if isinstance(exc, BodyTooLargeError):
        return 413
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    return 400


def install_error_handlers(app: Any, render_error: Any) -> None:
    """JSON errors under /api/, a small HTML page elsewhere; `render_error(status, message)` draws it."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException

    def respond(request: Any, status: int, message: str) -> Any:
        if request.url.path.startswith("/api/") or request.url.path == "/api":
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return HTMLResponse(render_error(status, message), status_code=status)

    @app.exception_handler(FourlensError)
    async def fourlens_error(request: Any, exc: FourlensError) -> Any:
        return respond(request, status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, exc: RequestValidationError) -> Any:
        return respond(request, 422, validation_message(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> Any:
        if exc.status_code == 404:
            message = f"no page or API route {request.url.path[:200]!r}; see /api for the routes"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path[:200]}"
        else:
            message = str(exc.detail)
        return respond(request, exc.status_code, message)


def validation_message(errors: list[dict]) -> str:
    """'baseline: ...; channel: ...' from FastAPI's validation errors, without echoing long values."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        text = str(error.get("msg", "invalid"))
        if "pattern" in text:
            text = "must be an id the dashboard lists (letters, digits, '.', '_', '-'; no paths)"
        parts.append(f"{where}: {text}")
    return "malformed parameters: " + "; ".join(parts)


def checkpoint_id() -> Any:
    """An optional query parameter naming a checkpoint (or another listed id): pattern-checked."""
    from fastapi import Query

    return Query(None, pattern=ID_PATTERN, max_length=160)


def parse_ids(text: str | None, what: str, limit: int = 50) -> list[str]:
    """A comma-separated list of ids, each checked against ID_PATTERN."""
    import re

    if not text:
        return []
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if len(ids) > limit:
        raise BadInputError(f"{what}: at most {limit} ids; got {len(ids)}")
    for one in ids:
        if not re.fullmatch(ID_PATTERN, one):
            raise BadInputError(f"{what}: {one[:60]!r} is not an id (letters, digits, '.', '_', '-'; no paths)")
    return ids

