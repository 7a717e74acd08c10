"""A real corpus that needs no download: the Python standard library on this machine.

- `code` documents: the stdlib's .py files (one document per file, split at ~8 KB);
- `prose` documents: the docstrings of the stdlib's modules, classes and functions (English prose
  shipped with every Python), grouped per module.
Written as JSONL shards (`text`, `domain`, `source`) under a cache directory, once.
"""

from __future__ import annotations

import ast
import json
import sysconfig
from pathlib import Path

CHUNK = 8_000


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def build(out: Path, shards: int = 8, max_bytes: int | None = None) -> Path:
    """Write the shards (if not there yet) and return the directory."""
    marker = out / ".complete"
    if marker.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    docs: list[dict] = []
    total = 0
    for path in stdlib_files():
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        name = str(path.relative_to(path.parents[len(path.parts) - 5])) if len(path.parts) > 5 else path.name
        for start in range(0, len(source), CHUNK):
            docs.append({"text": source[start:start + CHUNK], "domain": "code", "source": name})
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        strings = [ast.get_docstring(node) for node in ast.walk(tree)
                   if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        prose = "\n\n".join(s for s in strings if s and len(s.split()) >= 8)
        if prose:
            docs.append({"text": prose, "domain": "prose", "source": name})
        total += len(source) + len(prose)
        if max_bytes and total >= max_bytes:
            break
    for s in range(shards):
        with (out / f"stdlib-{s:02d}.jsonl").open("w", encoding="utf-8") as handle:
            for doc in docs[s::shards]:
                handle.write(json.dumps(doc) + "\n")
    marker.write_text("ok")
    return out
