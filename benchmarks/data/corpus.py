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


def build_large(base: Path, out: Path, copies: int = 9, shards: int = 32, seed: int = 0) -> Path:
    """A ~10x larger corpus (about 320 MB) from the stdlib corpus at `base`, written once: `copies`
    copies of every document, each copy after the first lightly edited (about 1 line in 20 dropped and
    1 in 20 doubled, differently per copy, so the copies are near-duplicates, not byte-identical), all
    shuffled over `shards` shards. A realistic scan reads GBs; this size shows the per-byte costs
    without the fixed ones dominating."""
    import random

    marker = out / ".complete"
    if marker.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    docs = [json.loads(line) for p in sorted(base.glob("*.jsonl"))
            for line in p.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    order = [(k, i) for k in range(copies) for i in range(len(docs))]
    rng.shuffle(order)
    handles = [(out / f"large-{s:03d}.jsonl").open("w", encoding="utf-8") for s in range(shards)]
    try:
        for j, (k, i) in enumerate(order):
            doc = docs[i]
            text = doc["text"]
            if k:
                edit = random.Random(seed * 1_000_003 + k * 100_003 + i)
                lines = []
                for line in text.split("\n"):
                    r = edit.random()
                    if r < 0.05:
                        continue
                    lines.append(line)
                    if r > 0.95:
                        lines.append(line)
                text = "\n".join(lines)
            handles[j % shards].write(json.dumps({"text": text, "domain": doc["domain"],
                                                  "source": f"{doc['source']}#{k}"}) + "\n")
    finally:
        for handle in handles:
            handle.close()
    marker.write_text("ok")
    return out
