"""A TinyLM training run on disk: its checkpoints by step, and `cached_run`, which trains once and reuses
the files (under $XDG_CACHE_HOME/fourlens/tinylm/<hash of the configs and the torch version>)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from fourlens._cache import user_cache_dir
from fourlens._progress import Bar
from fourlens.demo.tinylm.model import TinyLM, TinyLMConfig
from fourlens.demo.tinylm.training import TrainConfig, train
from fourlens.errors import BadInputError


def load(path: str | os.PathLike[str], config: TinyLMConfig | None = None) -> TinyLM:
    """Load a TinyLM checkpoint written by `train` (safetensors; nothing is unpickled).

    The config is read from `config.json` beside the file when not given."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"TinyLM checkpoint {path} does not exist; train one with fourlens.demo.tinylm.train")
    if config is None:
        meta = path.parent / "config.json"
        config = TinyLMConfig(**json.loads(meta.read_text())["model"]) if meta.is_file() else TinyLMConfig()
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise BadInputError(f"{path}: not a readable safetensors file ({exc})") from None
    model = TinyLM(config)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = str(exc).strip().splitlines()[-1].strip()
        raise BadInputError(f"{path}: tensors do not fit a TinyLM with {config} ({detail})") from None
    if missing or unexpected:
        raise BadInputError(f"{path}: not a TinyLM checkpoint for {config} (missing {missing[:3]}, "
                            f"unexpected {unexpected[:3]})")
    return model.eval()


@dataclass(frozen=True)
class TinyLMRun:
    """A finished training run on disk: checkpoints by step, and the per-step log."""

    directory: Path
    steps: tuple[int, ...]

    def checkpoint(self, step: int) -> Path:
        if step not in self.steps:
            raise BadInputError(f"no checkpoint at step {step} in {self.directory}; have {list(self.steps)}")
        return self.directory / f"step-{step:05d}.safetensors"

    def model(self, step: int | None = None) -> TinyLM:
        return load(self.checkpoint(self.steps[-1] if step is None else step))

    def log(self) -> list[dict]:
        lines = (self.directory / "log.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line]


def cache_dir() -> Path:
    return user_cache_dir("tinylm")


def run_key(config: TinyLMConfig, train_config: TrainConfig) -> str:
    """The cache folder's name for a run: a hash of both configs, the torch version (its kernels and RNG
    decide the weights) and the recipe's version (bump it when `train` changes)."""
    key = json.dumps({"model": asdict(config), "train": asdict(train_config),
                      "torch": torch.__version__.split("+")[0], "recipe": 1}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def cached_run(config: TinyLMConfig | None = None, train_config: TrainConfig | None = None,
               directory: str | os.PathLike[str] | None = None, verbose: bool = False) -> TinyLMRun:
    """Train once and reuse: the run lives under `directory` (default: the user cache, in the folder
    `run_key` names) and is retrained only when its files are missing. `verbose`: say on stderr that
    it trains and where it caches, with progress (plain lines when stderr is not a terminal)."""
    config = config or TinyLMConfig()
    tc = train_config or TrainConfig()
    root = Path(directory) if directory is not None else cache_dir() / run_key(config, tc)
    steps = tuple(sorted({0, tc.steps, *range(tc.checkpoint_every, tc.steps + 1, tc.checkpoint_every)}))
    done = root / "log.jsonl"
    if not done.is_file() or not all((root / f"step-{s:05d}.safetensors").is_file() for s in steps):
        if verbose:
            # training takes minutes: say so before the first progress line, whatever stdout is
            print(f"training TinyLM on the CPU ({tc.steps:,} steps, once: a few minutes), cached at {root}",
                  file=sys.stderr, flush=True)
        started = time.perf_counter()
        with Bar(tc.steps, "training TinyLM", progress=verbose) as bar:
            # train() reports the absolute step; the bar counts increments
            train(config, tc, out_dir=root, progress=lambda step, _total: bar.advance(step - bar.done))
        if verbose:
            print(f"trained TinyLM in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return TinyLMRun(directory=root, steps=steps)
