"""A runs directory: one bundle per checkpoint, ordered by training step, re-read as bundles arrive.

Layout: `RUNS_DIR/<checkpoint>/` is a bundle (see `fourlens.triage.bundle`); files at the top level
(a report, a README, a scaling-runs table) are not checkpoints. A checkpoint's step is, in order:
`[options.training] checkpoint_step` in its fourlens.toml, else the last number in its name
(`ckpt-41200` -> 41200); checkpoints without a step sort after the others, by name. Where most
sub-directories have a fourlens.toml, those without one are not checkpoints (listed as ignored). A
workspace written by `fourlens demo` (`baseline/`, `candidate/` beside its `extras/` folder) is a runs
directory too.

A bundle is identified by a content fingerprint (each file's relative path, size and modification
time), so anything computed from it can be cached until one of its files changes. A sub-directory
that fails to load is kept as a checkpoint with its error, so one broken bundle never hides the others.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fourlens.errors import BadInputError
from fourlens.triage.bundle import MANIFEST_NAME, Bundle, load_bundle

# Folder names that hold evidence inside one bundle: a runs directory made only of these is a bundle.
EVIDENCE_FOLDERS = {"logs", "evals", "traces", "data", "weights", "runs", "wandb", "mlruns"}
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_CHECKPOINTS = 10_000


@dataclass(frozen=True)
class Checkpoint:
    """One sub-directory of a runs directory: its bundle, or why it could not be read."""

    id: str                    # URL-safe, unique within the directory
    name: str                  # the bundle's name (manifest or directory name)
    root: Path
    step: int | None
    fingerprint: str           # changes whenever a file of the bundle changes
    bundle: Bundle | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.bundle is not None

    def to_dict(self) -> dict:
        evidence = {kind: len(paths) for kind, paths in self.bundle.evidence.items() if paths} if self.bundle else {}
        return {"id": self.id, "name": self.name, "step": self.step, "ok": self.ok, "error": self.error,
                "fingerprint": self.fingerprint, "evidence": evidence}


def fingerprint(root: Path) -> str:
    """A digest of every file's relative path, size and mtime under `root` (dot-folders skipped)."""
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            path = Path(directory, name)
            try:
                info = path.stat()
            except OSError:   # removed while we walked: the next scan sees the settled state
                continue
            digest.update(f"{path.relative_to(root)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def step_from(bundle: Bundle | None, directory_name: str) -> int | None:
    """The checkpoint's step: the manifest's checkpoint_step, else the last number in its name."""
    if bundle is not None:
        declared = bundle.lens_options("training").get("checkpoint_step")
        if isinstance(declared, int) and not isinstance(declared, bool):
            return declared
    for name in ((bundle.name,) if bundle is not None else ()) + (directory_name,):
        numbers = re.findall(r"\d+", name)
        if numbers:
            return int(numbers[-1])
    return None


def check_runs_root(root: Path) -> Path:
    """`root` resolved, or a BadInputError when it is missing, a file, or one bundle rather than many."""
    root = Path(root).expanduser()
    if not root.exists():
        raise BadInputError(f"runs directory {root} does not exist; pass a directory that holds one bundle "
                            "per checkpoint (e.g. runs/ with runs/ckpt-1000/, runs/ckpt-2000/, ...)")
    if not root.is_dir():
        raise BadInputError(f"{root} is a file, not a runs directory")
    subdirs = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    if (root / MANIFEST_NAME).is_file() or (subdirs and subdirs <= EVIDENCE_FOLDERS):
        raise BadInputError(f"{root} is one bundle (it holds {MANIFEST_NAME} or evidence folders such as "
                            f"{', '.join(sorted(subdirs)[:3]) or 'logs/'}), not a runs directory; pass the folder "
                            f"that holds one bundle per checkpoint, e.g. {root.parent}")
    return root.resolve()


class RunsDirectory:
    """The checkpoints of one runs directory, re-scanned at most every `reload_s` seconds.

    Bundles are loaded once per fingerprint; a scan only walks the directories to fingerprint them."""

    def __init__(self, root: str | os.PathLike[str], reload_s: float = 2.0) -> None:
        self.root = check_runs_root(Path(root))
        self.reload_s = reload_s
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], Checkpoint] = {}   # (directory name, fingerprint) -> checkpoint
        self._checkpoints: tuple[Checkpoint, ...] = ()
        self._scanned_at = -float("inf")
        self._ignored: tuple[str, ...] = ()

    def checkpoints(self, refresh: bool = False) -> tuple[Checkpoint, ...]:
        """Every checkpoint (loaded or failed), in step order."""
        with self._lock:
            if refresh or time.monotonic() - self._scanned_at >= self.reload_s:
                self._checkpoints = self._scan()
                self._scanned_at = time.monotonic()
            return self._checkpoints

    def ignored(self) -> tuple[str, ...]:
        """Sub-directories that are not checkpoints: without a fourlens.toml where other bundles have one."""
        self.checkpoints()
        return self._ignored

    def loaded(self) -> tuple[Checkpoint, ...]:
        """The checkpoints whose bundle loaded, in step order."""
        return tuple(c for c in self.checkpoints() if c.ok)

    def get(self, checkpoint_id: str) -> Checkpoint | None:
        return next((c for c in self.checkpoints() if c.id == checkpoint_id), None)

    def problem(self) -> str | None:
        """One sentence when there is nothing to show: an empty directory, or no readable bundle."""
        checkpoints = self.checkpoints()
        if not checkpoints:
            return (f"{self.root} holds no checkpoints yet: waiting for bundles (one sub-directory per checkpoint, "
                    "e.g. ckpt-1000/ with its logs, evals, traces, data or weights)")
        if not any(c.ok for c in checkpoints):
            first = checkpoints[0]
            return (f"{self.root} holds {len(checkpoints)} sub-director{'y' if len(checkpoints) == 1 else 'ies'} "
                    f"but no bundle fourlens can read (first: {first.root.name}: {first.error})")
        return None

    def _scan(self) -> tuple[Checkpoint, ...]:
        try:
            entries = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError as exc:
            raise BadInputError(f"cannot list the runs directory {self.root} ({exc.strerror or exc})") from None
        if len(entries) > MAX_CHECKPOINTS:
            raise BadInputError(f"{self.root} has more than {MAX_CHECKPOINTS:,} sub-directories; serve a smaller "
                                "runs directory")
        # Where most sub-directories carry a fourlens.toml, a folder without one is not a checkpoint (eval
        # task definitions beside the bundles, as a demo workspace has); a lone manifest changes nothing.
        with_manifest = [d for d in entries if (d / MANIFEST_NAME).is_file()]
        if 2 * len(with_manifest) > len(entries):
            self._ignored = tuple(d.name for d in entries if d not in with_manifest)
            entries = with_manifest
        else:
            self._ignored = ()
        found, ids = [], set()
        for directory in entries:
            key = (directory.name, fingerprint(directory))
            checkpoint = self._loaded.get(key) or self._load(directory, key[1])
            self._loaded[key] = checkpoint
            unique = _unique_id(checkpoint.id, ids)
            if unique != checkpoint.id:
                checkpoint = Checkpoint(**{**checkpoint.__dict__, "id": unique})
            ids.add(unique)
            found.append(checkpoint)
        live = {(c.root.name, c.fingerprint) for c in found}
        self._loaded = {k: v for k, v in self._loaded.items() if k in live}
        return tuple(sorted(found, key=lambda c: (c.step is None, c.step or 0, c.name, c.id)))

    @staticmethod
    def _load(directory: Path, digest: str) -> Checkpoint:
        checkpoint_id = directory.name if SAFE_ID.fullmatch(directory.name) else _slug(directory.name)
        try:
            bundle = load_bundle(directory)
        except BadInputError as exc:
            return Checkpoint(checkpoint_id, directory.name, directory, step_from(None, directory.name), digest,
                              error=str(exc))
        except OSError as exc:
            return Checkpoint(checkpoint_id, directory.name, directory, step_from(None, directory.name), digest,
                              error=f"cannot read the bundle ({exc.strerror or exc})")
        return Checkpoint(checkpoint_id, bundle.name, directory, step_from(bundle, directory.name), digest, bundle)


def _slug(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:100] or "checkpoint"
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def _unique_id(candidate: str, taken: set[str]) -> str:
    if candidate not in taken:
        return candidate
    n = 2
    while f"{candidate}-{n}" in taken:
        n += 1
    return f"{candidate}-{n}"
