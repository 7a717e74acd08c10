"""Model sources beyond Hugging Face folders: kinds of MODEL spec an application adds to the lens.

The lens itself loads `minilm` and local Hugging Face model folders. An application registers other
sources (the `fourlens` command registers the demo's TinyLM: `tinylm[:STEP]` and its checkpoint files),
so the library never imports the application. A source is registered by an import path
(`"package.module:NAME"`, resolved on first use, so registering costs nothing) or as a `ModelSource`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fourlens.errors import BadInputError


@dataclass(frozen=True)
class ModelSource:
    """`matches(spec)` says whether the source reads `spec`; `load(spec)` returns (model, tokenizer);
    `checkpoints(spec)` (optional) returns ([(step, zero-argument loader)], tokenizer) for a training
    run; `help` is one phrase for the CLI's MODEL help."""

    name: str
    matches: Callable[[str], bool]
    load: Callable[[str], tuple[Any, Any]]
    checkpoints: Callable[[str], tuple[list[tuple[int, Any]], Any]] | None = None
    help: str = ""


_REGISTERED: dict[str, ModelSource | str] = {}


def register_source(source: ModelSource | str) -> None:
    """Add a source (a `ModelSource`, or the import path `"module:NAME"` of one); the same name replaces."""
    name = source.name if isinstance(source, ModelSource) else source
    _REGISTERED[name] = source


def registered_sources() -> list[ModelSource]:
    out = []
    for key, source in list(_REGISTERED.items()):
        if isinstance(source, str):
            module, _, attribute = source.partition(":")
            try:
                source = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as exc:
                raise BadInputError(f"model source {key!r} cannot be imported ({exc})") from None
            _REGISTERED[key] = source
        out.append(source)
    return out


def find_source(spec: str) -> ModelSource | None:
    return next((s for s in registered_sources() if s.matches(spec)), None)
