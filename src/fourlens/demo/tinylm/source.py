"""The TinyLM as a model source of the transformer lens (`fourlens.transformer.sources`): the `fourlens`
command registers `MODEL_SOURCE`, so `tinylm[:STEP]`, a TinyLM checkpoint file or a directory of them
work wherever a MODEL is asked for."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from fourlens.demo.tinylm.cache import cached_run, load
from fourlens.demo.tinylm.model import TinyLM
from fourlens.demo.tinylm.tokenizer import AsciiTokenizer
from fourlens.errors import BadInputError
from fourlens.transformer.sources import ModelSource


def _is_tinylm_spec(spec: str) -> bool:
    """`tinylm`, `tinylm:STEP`, a checkpoint written by `train` (config.json beside it with its "model" and
    "train" sections), or a directory of such checkpoints."""
    if spec == "tinylm" or spec.startswith("tinylm:"):
        return True
    path = Path(spec).expanduser()
    folder = path if path.is_dir() else path.parent
    if path.is_file() and not path.name.endswith(".safetensors"):
        return False
    try:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "model" in meta and "train" in meta and (
        path.is_file() or any(folder.glob("step-*.safetensors")))


def _load_spec(spec: str) -> tuple[TinyLM, AsciiTokenizer]:
    if spec == "tinylm" or spec.startswith("tinylm:"):
        step = spec.partition(":")[2]
        if step and not step.isdigit():
            raise BadInputError(f"tinylm:STEP needs a step number; got {spec!r}")
        return cached_run(verbose=True).model(int(step) if step else None), AsciiTokenizer()
    path = Path(spec).expanduser()
    if path.is_dir():
        steps = _run_spec(spec)[0]
        return steps[-1][1](), AsciiTokenizer()
    return load(path), AsciiTokenizer()


def _run_spec(spec: str) -> tuple[list[tuple[int, Callable[[], TinyLM]]], AsciiTokenizer]:
    if spec == "tinylm":
        run = cached_run(verbose=True)
        return [(step, lambda step=step: run.model(step)) for step in run.steps], AsciiTokenizer()
    folder = Path(spec).expanduser()
    files = sorted(folder.glob("step-*.safetensors")) if folder.is_dir() else []
    steps = [(int(m.group(1)), f) for f in files if (m := re.fullmatch(r"step-(\d+)\.safetensors", f.name))]
    if not steps:
        raise BadInputError(f"{spec!r} is not 'tinylm' or a directory of step-XXXXX.safetensors checkpoints "
                            "written by fourlens.demo.tinylm.train")
    return [(step, lambda path=path: load(path)) for step, path in sorted(steps)], AsciiTokenizer()


# what the `fourlens` command registers with the transformer lens (fourlens.transformer.sources)
MODEL_SOURCE = ModelSource("tinylm", _is_tinylm_spec, _load_spec, _run_spec,
                           help="tinylm[:STEP], a TinyLM .safetensors file or a run directory")
