"""Decide what kind of evidence a file holds by asking the lenses that read it.

Each evidence kind names the lens function that sniffs it; the lens owns its formats (a registry
with one `sniff(path)` per format) and detection only asks, in order:

| kind           | asked                                             | reads                                |
| -------------- | ------------------------------------------------- | ------------------------------------ |
| evals          | `fourlens.behavior.formats.sniff_eval`            | lm-eval, inspect_ai, generic, safety |
| agent_traces   | `fourlens.behavior.traces.sniff`                  | per-request tables, OpenTelemetry    |
| training_logs  | `fourlens.training.readers.registry.sniff`        | TensorBoard, W&B, MLflow, tables     |
| data           | `fourlens.data.formats.sniff`                     | text / JSONL / Parquet shards        |
| weights        | `fourlens.weights.formats.sniff`                  | safetensors, PyTorch files           |

A kind may also claim whole directories (`sniff_dir`: an MLflow `mlruns/`, a W&B run folder), which
are then one piece of evidence and not walked. A lens from another package brings its own kinds
(`LensSpec.kinds`); they are asked after the built-in ones (`fourlens.triage.registry.evidence_kinds`).
Sniffing reads at most the first 64 KiB of a file (`fourlens._sniff`), so detecting a terabyte corpus
costs nothing. A model folder's
metadata (`tokenizer.json`, `config.json`, ...: `fourlens._sniff.is_model_folder_metadata`) is no
lens's evidence and is not asked about.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fourlens._sniff import TABULAR_SUFFIXES, is_model_folder_metadata

Sniff = Callable[[Path], bool]


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence: its name (a key of `Bundle.evidence` and of `[evidence]` in fourlens.toml),
    a label for messages, the DESIGN.md lens it belongs to, the function that recognises a file
    ("module:function" or a callable), optionally one that recognises a directory read whole, and
    parent-directory names that decide for tabular files no sniffer recognised."""

    name: str
    label: str
    lens: str
    sniff: Sniff | str = field(compare=False)
    sniff_dir: Sniff | str | None = field(default=None, compare=False)
    directory_hints: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"EvidenceKind.name must be an identifier (used in fourlens.toml); got {self.name!r}")
        object.__setattr__(self, "directory_hints", frozenset(self.directory_hints))

    def matches(self, path: Path) -> bool:
        return bool(_resolve(self.sniff)(path))

    def claims(self, directory: Path) -> bool:
        return self.sniff_dir is not None and bool(_resolve(self.sniff_dir)(directory))


def _resolve(function: Sniff | str) -> Sniff:
    if callable(function):
        return function
    module, _, attribute = function.partition(":")
    return getattr(importlib.import_module(module), attribute)


BUILTIN_KINDS: tuple[EvidenceKind, ...] = (
    EvidenceKind("evals", "eval results", "behavior", "fourlens.behavior.formats:sniff_eval",
                 directory_hints=frozenset({"evals", "eval", "results", "benchmarks"})),
    EvidenceKind("agent_traces", "agent traces", "behavior", "fourlens.behavior.traces:sniff",
                 directory_hints=frozenset({"traces", "trace", "agents", "agent"})),
    EvidenceKind("training_logs", "training logs", "training", "fourlens.training.readers.registry:sniff",
                 "fourlens.training.readers.registry:claims_directory",
                 frozenset({"training", "train", "logs", "tb", "tensorboard", "runs", "metrics"})),
    EvidenceKind("data", "data snapshots", "data", "fourlens.data.formats:sniff",
                 directory_hints=frozenset({"data", "corpus", "snapshot", "shards"})),
    EvidenceKind("weights", "model weights", "representation", "fourlens.weights.formats:sniff",
                 directory_hints=frozenset({"weights", "checkpoint", "checkpoints", "model"})),
)
# The built-in kinds, by name (kept for callers that list them; plugin kinds come from `evidence_kinds`).
EVIDENCE_KINDS: tuple[str, ...] = tuple(kind.name for kind in BUILTIN_KINDS)
EVIDENCE_LABELS = {kind.name: kind.label for kind in BUILTIN_KINDS}
SNIFF_BYTES = 64 * 1024


def detect_kind(path: Path, kinds: tuple[EvidenceKind, ...] = BUILTIN_KINDS) -> str | None:
    """The evidence kind of one file (or of a directory read whole), or None when none of `kinds` reads
    it. The kinds installed lenses bring, plugins included, are `fourlens.triage.evidence_kinds()`."""
    if path.is_dir():
        return claiming_kind(path, kinds)
    if is_model_folder_metadata(path):
        return None   # a model folder's tokenizer.json, config.json, ...: their keys look like any lens's fields
    for kind in kinds:
        try:
            if kind.matches(path):
                return kind.name
        except (OSError, ValueError):
            continue   # a file one lens cannot even open is not its evidence; the others may still read it
    return _kind_from_directory(path, kinds)


def claiming_kind(directory: Path, kinds: tuple[EvidenceKind, ...]) -> str | None:
    """The kind that reads this directory whole (an MLflow store, a W&B run folder), or None."""
    for kind in kinds:
        try:
            if kind.claims(directory):
                return kind.name
        except (OSError, ValueError):
            continue
    return None


def _kind_from_directory(path: Path, kinds: tuple[EvidenceKind, ...]) -> str | None:
    """When no lens recognised a tabular file, a parent directory's name decides (`evals/odd.csv`)."""
    if not path.name.endswith(TABULAR_SUFFIXES) or path.suffix == ".json":
        return None
    for parent in path.parents:
        for kind in kinds:
            if parent.name.lower() in kind.directory_hints:
                return kind.name
    return None
