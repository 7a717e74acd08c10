"""Models larger than memory: run a Hugging Face checkpoint one block at a time.

`load_streaming(folder)` builds the model with its parameters on PyTorch's meta device (no memory),
reads what lies outside the blocks (embeddings, final norm, unembedding) from the safetensors files,
and gives every residual block a pre-forward hook that reads its weights from disk and a forward hook
that drops them again. Every function of the lens then runs unchanged, and peak memory is the
outside-the-blocks weights plus one block plus the activations, whatever the number of layers.
Tensors are read with plain file reads at the offsets the safetensors header gives (not memory-mapped,
so an address-space limit such as `ulimit -v` bounds what the process maps). Weight-based scores read
a block's weights the same way when they need them (`read_parameter`).
"""

from __future__ import annotations

import contextlib
import json
import re
import struct
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._discover import discover
from fourlens.transformer._hf_heads import hf_head_class

_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


@dataclass(frozen=True)
class _Entry:
    file: Path
    start: int      # absolute byte offset in the file
    stop: int
    dtype: torch.dtype
    shape: tuple[int, ...]


def index_safetensors(folder: Path) -> dict[str, _Entry]:
    """Every tensor of the folder's *.safetensors files (one file or shards) by name, from the headers."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise BadInputError(f"{folder} holds no *.safetensors files; streaming reads safetensors only")
    index: dict[str, _Entry] = {}
    for file in files:
        with file.open("rb") as handle:
            size = struct.unpack("<Q", handle.read(8))[0]
            try:
                header = json.loads(handle.read(size))
            except ValueError:
                raise BadInputError(f"{file}: not a safetensors file (unreadable header)") from None
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            if meta["dtype"] not in _DTYPES:
                raise BadInputError(f"{file}: tensor {name} has dtype {meta['dtype']}, which fourlens cannot stream")
            begin, end = meta["data_offsets"]
            index[name] = _Entry(file, 8 + size + begin, 8 + size + end, _DTYPES[meta["dtype"]], tuple(meta["shape"]))
    return index


class Streamer:
    """Reads named tensors of one checkpoint and swaps blocks' weights in and out of memory."""

    def __init__(self, folder: Path, device: str, dtype: torch.dtype | None) -> None:
        self.folder, self.device, self.dtype = folder, torch.device(device), dtype
        self.index = index_safetensors(folder)
        self.seconds_reading = 0.0
        self.blocks_loaded = 0

    def read(self, name: str) -> torch.Tensor:
        entry = self.index.get(name)
        if entry is None:
            raise BadInputError(f"{self.folder}: the checkpoint has no tensor {name!r}")
        started = time.perf_counter()
        buffer = bytearray(entry.stop - entry.start)
        with entry.file.open("rb") as handle:
            handle.seek(entry.start)
            handle.readinto(buffer)
        tensor = torch.frombuffer(buffer, dtype=entry.dtype).reshape(entry.shape) if buffer else \
            torch.empty(entry.shape, dtype=entry.dtype)
        if self.dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(self.dtype)
        tensor = tensor.to(self.device)
        self.seconds_reading += time.perf_counter() - started
        return tensor

    def load(self, module: nn.Module, prefix: str) -> None:
        """Give `module`'s meta parameters their tensors from the checkpoint."""
        for name, parameter in list(module.named_parameters(recurse=True)):
            owner, _, leaf = name.rpartition(".")
            target = module.get_submodule(owner) if owner else module
            if parameter.is_meta:
                target._parameters[leaf] = nn.Parameter(self.read(f"{prefix}{name}"), requires_grad=False)
        self.blocks_loaded += 1

    @staticmethod
    def unload(module: nn.Module) -> None:
        for name, parameter in list(module.named_parameters(recurse=True)):
            owner, _, leaf = name.rpartition(".")
            target = module.get_submodule(owner) if owner else module
            target._parameters[leaf] = nn.Parameter(parameter.detach().to("meta"), requires_grad=False)


_STREAMERS: weakref.WeakKeyDictionary[nn.Module, Streamer] = weakref.WeakKeyDictionary()


def streamer_of(model: nn.Module) -> Streamer | None:
    return _STREAMERS.get(model)


def read_parameter(model: nn.Module, module_name: str, parameter: str = "weight") -> torch.Tensor:
    """A module's parameter, read from the checkpoint when the model streams it (it is on meta)."""
    tensor = getattr(model.get_submodule(module_name), parameter)
    if tensor.is_meta:
        streamer = streamer_of(model)
        if streamer is not None:
            return streamer.read(f"{module_name}.{parameter}")
        offloaded = _offloaded(model, module_name, parameter)
        if offloaded is None:
            raise BadInputError(f"{module_name}.{parameter} is on the meta device and the model is not streamed")
        return offloaded
    return tensor.detach()


def _offloaded(model: nn.Module, module_name: str, parameter: str) -> torch.Tensor | None:
    """A parameter accelerate offloaded to the CPU or disk (`device_map="auto"` on a model larger than the
    GPUs): its hook on the module, or on a module above it, holds the weights it loads for each forward."""
    parts = module_name.split(".") if module_name else []
    for cut in range(len(parts), -1, -1):
        hook = getattr(model.get_submodule(".".join(parts[:cut])), "_hf_hook", None)
        for part in getattr(hook, "hooks", None) or ([hook] if hook is not None else []):
            weights = getattr(part, "weights_map", None) if getattr(part, "offload", False) else None
            if weights is None:
                continue
            try:
                return weights[".".join([*parts[cut:], parameter])].detach()
            except KeyError:
                continue
    return None


def _renamed(index: dict[str, _Entry], model: nn.Module) -> dict[str, _Entry]:
    """Checkpoint names under the names the model uses now, by transformers' own renaming rules
    (e.g. GPT-NeoX checkpoints store `embed_out`, the class calls it `lm_head`). Only plain renamings:
    a checkpoint whose tensors must be merged or split is reported as missing tensors."""
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping

        transforms = get_model_conversion_mapping(model)
    except Exception:  # noqa: BLE001 - an internal API of transformers; without it, names are taken as they are
        return {}
    rules = [(t._original_source_patterns[0], t._original_target_patterns[0]) for t in transforms
             if type(t).__name__ == "WeightRenaming" and getattr(t, "scope_prefix", None) is None
             and len(t._original_source_patterns) == len(t._original_target_patterns) == 1]
    renamed = {}
    for name, entry in index.items():
        new = name
        for source, target in rules:
            new = re.sub(source, target, new)
        if new != name and new not in index:
            renamed[new] = entry
    return renamed


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Build a module with every parameter on meta (no memory, no initialisation) and its buffers real
    (rotary frequencies are computed in __init__): parameters move to meta as they are registered."""
    original = nn.Module.register_parameter

    def register(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        original(module, name, param)
        if param is not None and not param.is_meta:
            module._parameters[name] = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)

    nn.Module.register_parameter = register  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def load_streaming(folder: str | Path, head_class: Any = None, device: str = "cpu", dtype: torch.dtype | None = None
                   ) -> nn.Module:
    """The model of a Hugging Face folder, its blocks read from disk as the forward pass reaches them."""
    import transformers  # the transformer extra

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise BadInputError(f"{folder} has no config.json; point at a Hugging Face model directory")
    config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
    cls = head_class or hf_head_class(folder, "auto", transformers)
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    wanted = dtype or (getattr(torch, stored) if isinstance(stored, str) else stored) or torch.float32
    with _parameters_on_meta():
        model = cls.from_config(config, dtype=wanted)
    streamer = Streamer(folder, device, wanted)
    streamer.index.update(_renamed(streamer.index, model))
    blocks = discover(model).blocks
    for name, module in model.named_modules():
        inside = any(name == b or name.startswith(b + ".") for b in blocks)
        if not inside and any(p.is_meta for p in module.parameters(recurse=False)):
            for leaf, parameter in list(module._parameters.items()):
                if parameter is None or not parameter.is_meta:
                    continue
                full = f"{name}.{leaf}" if name else leaf
                if full in streamer.index:
                    module._parameters[leaf] = nn.Parameter(streamer.read(full), requires_grad=False)
    model.tie_weights()  # an unembedding tied to the embedding is not stored twice
    missing = [n for n, p in model.named_parameters() if p.is_meta and not any(n.startswith(b + ".") for b in blocks)]
    if missing:
        raise BadInputError(f"{folder}: the checkpoint lacks {missing[:3]} (its names do not match "
                            f"{type(model).__name__}'s); load it without streaming")
    for block in blocks:
        module = model.get_submodule(block)
        module.register_forward_pre_hook(lambda m, _a, prefix=f"{block}.": streamer.load(m, prefix))
        module.register_forward_hook(lambda m, _a, _o: Streamer.unload(m))
    for module in model.modules():  # buffers (rotary frequencies) were built on the CPU
        for key, buffer in module._buffers.items():
            if buffer is not None:
                module._buffers[key] = buffer.to(device)
    _STREAMERS[model] = streamer
    return model.eval()
