"""Which files of a demo workspace `fourlens demo` wrote: it replaces those and nothing else.

The workspace records them in MARKER. A file at a path the demo writes that the record does not list
(the user's own report.html, a file the user added to baseline/) makes the demo refuse, with or without
--overwrite; --overwrite replaces only what an earlier demo wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fourlens._io import write_atomic
from fourlens.errors import BadInputError

MARKER = ".fourlens-demo.json"
REPORTS = ("report.html", "report.json")


def _recorded(root: Path) -> set[str]:
    try:
        return set(json.loads((root / MARKER).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _files(root: Path, targets: Iterable[Path]) -> list[Path]:
    found = [root / name for name in REPORTS if (root / name).is_file()]
    for target in targets:
        if target.is_file():
            found.append(target)
        elif target.is_dir():
            found.extend(p for p in sorted(target.rglob("*")) if p.is_file() or p.is_symlink())
    return found


def check_workspace(root: Path, targets: Iterable[Path], overwrite: bool) -> None:
    """Refuse before any work when the demo would replace a file it did not write, or, without
    `overwrite`, any file at all. Then, with `overwrite`, remove what an earlier demo wrote."""
    targets = list(targets)
    ours = _recorded(root)
    existing = _files(root, targets)
    theirs = [p for p in existing if p.relative_to(root).as_posix() not in ours]
    if theirs:
        more = f" (and {len(theirs) - 1} more)" if len(theirs) > 1 else ""
        raise BadInputError(f"{theirs[0]}{more} was not written by fourlens demo and would be replaced; choose "
                            "another --out (the demo replaces only the files it wrote)")
    if existing and not overwrite:
        raise BadInputError(f"{root} already holds a demo workspace; pass --overwrite to replace it, or choose "
                            "another --out")
    for path in existing:
        path.unlink()
    for target in targets:   # the folders the removed files leave empty, deepest first
        if target.is_dir():
            for folder in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(folder.iterdir()):
                    folder.rmdir()
            if not any(target.iterdir()):
                target.rmdir()


def record_workspace(root: Path, targets: Iterable[Path]) -> None:
    """List every file the demo wrote under `targets`, and the reports it writes next."""
    files = {p.relative_to(root).as_posix() for p in _files(root, targets)} | set(REPORTS)
    write_atomic(root / MARKER, json.dumps({"files": sorted(files)}, indent=1) + "\n")
