"""The user cache directory: trained demo models and cached data profiles live here, never in the repo."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(*parts: str) -> Path:
    """`$XDG_CACHE_HOME/fourlens/<parts>`, or `~/.cache/fourlens/<parts>` when XDG_CACHE_HOME is unset.
    Not created here: writers create it when they first write."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "fourlens", *parts)
