"""The dashboard's cache: JSON values keyed by what they were computed from (bundle fingerprints,
parameters, the fourlens version), in memory and on disk, so a restarted dashboard answers at once.

Disk entries live under `$XDG_CACHE_HOME/fourlens/dashboard/` (written atomically, never inside the
runs directory). Objects that are not JSON (a loaded model, a comparison table) are kept in memory only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fourlens import __version__
from fourlens._cache import user_cache_dir
from fourlens._io import write_atomic

CACHE_FORMAT = 2   # bump when a cached payload's layout changes


def cache_key(*parts: object) -> str:
    """A stable key for `parts` (strings, numbers, tuples, None), specific to this fourlens version."""
    text = json.dumps([CACHE_FORMAT, __version__, *parts], default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, tuples as lists, NaN and infinities as None (a
    missing bound of an interval: the pages draw no band there), keys as strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class Store:
    """Memory (LRU, `memory_items` entries) in front of a directory of JSON files (None: memory only)."""

    def __init__(self, directory: Path | None = None, memory_items: int = 512) -> None:
        self.directory = directory
        self.memory_items = memory_items
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._objects: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> Store:
        return cls(user_cache_dir("dashboard", f"v{CACHE_FORMAT}"))

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        if self.directory is None:
            return None
        path = self._path(key)
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):   # absent, or half-written by a process that died: recompute
            return None
        self._remember(self._memory, key, value)
        return value

    def put(self, key: str, value: Any) -> Any:
        """Store a value (made plain by `plain`) in memory and on disk; returns the stored value."""
        value = plain(value)
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        self._remember(self._memory, key, value)
        if self.directory is not None:
            with contextlib.suppress(OSError):   # a read-only cache folder costs speed after a restart only
                write_atomic(self._path(key), text)
        return value

    def get_object(self, key: str) -> Any | None:
        with self._lock:
            if key in self._objects:
                self._objects.move_to_end(key)
                return self._objects[key]
        return None

    def put_object(self, key: str, value: Any) -> Any:
        self._remember(self._objects, key, value, limit=16)   # models and tables: few, and large
        return value

    def _remember(self, table: OrderedDict, key: str, value: Any, limit: int | None = None) -> None:
        with self._lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > (limit or self.memory_items):
                table.popitem(last=False)

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.json"
