"""The local dashboard: a thin FastAPI app over one report, or over a runs directory of checkpoints
(`create_runs_app`): overview, per-lens pages and a JSON API, all computed by fourlens's own functions."""

from fourlens.server.app import create_app, serve, serve_runs
from fourlens.server.runs_app import create_runs_app

__all__ = ["create_app", "create_runs_app", "serve", "serve_runs"]
