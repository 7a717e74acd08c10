"""A bundle: one directory of evidence about one checkpoint.

fourlens walks the directory and detects each file's evidence kind (see `fourlens.triage.detect`).
An optional `fourlens.toml` at the bundle's root names the checkpoint, adds or overrides paths, turns
auto-detection off, and passes options to lenses:

    name = "ckpt-41200"            # default: the directory's name
    auto_detect = true             # false: use only the paths listed under [evidence]

    [evidence]                     # paths relative to the bundle; globs allowed; directories allowed
    training_logs = ["logs/metrics.csv"]
    evals = ["evals/*.jsonl"]

    [options.training]             # free-form options for one lens, read by its diagnose()
    loss_tag = "train/loss"

A kind listed under [evidence] replaces what auto-detection found for that kind.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourlens.errors import BadInputError
from fourlens.triage.detect import EvidenceKind, claiming_kind, detect_kind, evidence_kinds, kind_label, kind_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

MANIFEST_NAME = "fourlens.toml"
MANIFEST_KEYS = {"name", "auto_detect", "evidence", "options"}
MAX_FILES = 100_000
SKIP_DIRS = {"__pycache__", "node_modules", ".git", ".venv", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Bundle:
    """Evidence about one checkpoint: paths per evidence kind, and lens options from the manifest."""

    root: Path
    name: str
    evidence: Mapping[str, tuple[Path, ...]]
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    manifest: Path | None = None
    ignored: tuple[Path, ...] = ()

    def has(self, kind: str) -> bool:
        return bool(self.evidence.get(kind))

    def paths(self, kind: str) -> tuple[Path, ...]:
        """Paths of one evidence kind (files or directories), sorted."""
        if kind not in self.evidence and kind not in kind_names():
            raise ValueError(f"unknown evidence kind {kind!r}; expected one of {', '.join(kind_names())}")
        return self.evidence.get(kind, ())

    def lens_options(self, lens: str) -> Mapping[str, Any]:
        return self.options.get(lens, {})

    def describe(self) -> str:
        """'3 training logs, 2 eval results' — what this bundle holds, for messages."""
        parts = [f"{len(paths)} {kind_label(kind)}" for kind, paths in self.evidence.items() if paths]
        return ", ".join(parts) if parts else "no evidence"


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Open a bundle directory: read its fourlens.toml if any, detect its evidence.

    Raises `BadInputError` when the directory does not exist, the manifest cannot be read or names
    missing paths, or the bundle holds no evidence fourlens can read.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise BadInputError(f"bundle directory {root} does not exist; pass the directory that holds "
                            "the checkpoint's logs, eval results, traces, data or weights")
    if not root.is_dir():
        raise BadInputError(f"bundle {root} is a file; a bundle is a directory of evidence (put the file "
                            "in a directory, or point at the directory that holds it)")
    root = root.resolve()
    kinds = evidence_kinds()
    manifest_path = root / MANIFEST_NAME
    manifest = _read_manifest(manifest_path, kind_names(kinds)) if manifest_path.is_file() else {}
    auto = manifest.get("auto_detect", True)
    found, ignored = _auto_detect(root, kinds) if auto else ({kind.name: [] for kind in kinds}, [])
    for kind, entries in manifest.get("evidence", {}).items():
        found[kind] = _resolve_entries(root, manifest_path, kind, entries)
    evidence = {kind.name: tuple(sorted(set(found.get(kind.name, [])))) for kind in kinds}
    bundle = Bundle(root=root, name=manifest.get("name", root.name), evidence=evidence,
                    options=manifest.get("options", {}), manifest=manifest_path if manifest else None,
                    ignored=tuple(sorted(ignored)))
    if not any(bundle.evidence.values()):
        hint = f" (ignored: {', '.join(p.name for p in ignored[:5])})" if ignored else ""
        raise BadInputError(
            f"bundle {root} holds no evidence fourlens can read{hint}. Expected TensorBoard event files, "
            "CSV/JSONL scalar logs, eval results, agent traces, data shards or weights; or list paths "
            f"under [evidence] in {MANIFEST_NAME} (see README 'Bundles')"
        )
    return bundle


def _read_manifest(path: Path, known: tuple[str, ...]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read the manifest ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path}: not valid TOML ({exc}); fix the file or delete it to auto-detect") from None
    unknown = set(data) - MANIFEST_KEYS
    if unknown:
        raise BadInputError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"expected {', '.join(sorted(MANIFEST_KEYS))}")
    if "name" in data and not isinstance(data["name"], str):
        raise BadInputError(f"{path}: 'name' must be a string")
    if "auto_detect" in data and not isinstance(data["auto_detect"], bool):
        raise BadInputError(f"{path}: 'auto_detect' must be true or false")
    evidence = data.get("evidence", {})
    if not isinstance(evidence, dict):
        raise BadInputError(f"{path}: [evidence] must be a table of kind = [paths]")
    for kind, entries in evidence.items():
        if kind not in known:
            raise BadInputError(f"{path}: unknown evidence kind {kind!r} under [evidence]; "
                                f"expected one of {', '.join(known)}")
        if isinstance(entries, str):
            evidence[kind] = [entries]
        elif not (isinstance(entries, list) and all(isinstance(e, str) for e in entries)):
            raise BadInputError(f"{path}: evidence.{kind} must be a path or a list of paths")
    options = data.get("options", {})
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise BadInputError(f"{path}: [options.<lens>] must be tables, e.g. [options.training]")
    return data


def _resolve_entries(root: Path, manifest: Path, kind: str, entries: list[str]) -> list[Path]:
    resolved: list[Path] = []
    for entry in entries:
        pattern = str(root / entry)
        matches = [Path(m) for m in glob.glob(pattern, recursive=True)] if glob.has_magic(entry) else (
            [root / entry] if (root / entry).exists() else [])
        if not matches:
            raise BadInputError(f"{manifest}: evidence.{kind} names {entry!r}, which matches nothing "
                                f"under {root}; fix the path or remove it")
        resolved.extend(m.resolve() for m in matches)
    return resolved


def _auto_detect(root: Path, kinds: tuple[EvidenceKind, ...]) -> tuple[dict[str, list[Path]], list[Path]]:
    found: dict[str, list[Path]] = {kind.name: [] for kind in kinds}
    ignored: list[Path] = []
    seen = 0
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        kept = []
        for sub in sorted(subdirs):
            if sub.startswith(".") or sub in SKIP_DIRS or (here / sub).is_symlink():
                continue   # a link (wandb's latest-run) points at a folder the walk reaches anyway
            claimed = claiming_kind(here / sub, kinds)
            if claimed is not None:   # read whole by its lens (an MLflow store, a W&B run folder)
                found[claimed].append(here / sub)
                continue
            kept.append(sub)
        subdirs[:] = kept
        for file_name in sorted(files):
            if file_name.startswith(".") or file_name == MANIFEST_NAME:
                continue
            seen += 1
            if seen > MAX_FILES:
                raise BadInputError(f"bundle {root} has more than {MAX_FILES:,} files; list the evidence "
                                    f"paths under [evidence] in {MANIFEST_NAME} and set auto_detect = false")
            path = here / file_name
            kind = detect_kind(path, kinds)
            (found[kind] if kind else ignored).append(path)
    return found, ignored
