"""Read a PyTorch checkpoint (.bin/.pt/.pth/.ckpt) without unpickling arbitrary objects.

`torch.load(weights_only=True)` only rebuilds tensors, dicts, lists and primitive types, so a
malicious checkpoint cannot run code (DESIGN.md "Loading a checkpoint never unpickles untrusted data
by default"). Files in the zip format that `torch.save` writes since torch 1.6 are memory-mapped
(`mmap=True`), so tensors are read from disk only when compared; the legacy (pre-1.6) format cannot
be mapped and is loaded whole. `trust_pickle=True` (CLI `--trust-pickle`) allows a full unpickle for
checkpoints that store other Python objects (e.g. Lightning hyper-parameters), for files you trust.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from fourlens._torch import load_torch_file
from fourlens.errors import BadInputError
from fourlens.weights.tensor_info import TensorInfo, dtype_code

# Sub-dicts that conventionally hold the weights in training checkpoints (Lightning, DeepSpeed,
# custom loops) when the top level holds optimizer state and metadata beside them.
STATE_KEYS = ("state_dict", "model_state_dict", "model", "module", "weights")
_PAGE = mmap.PAGESIZE


class TorchFile:
    """One checkpoint loaded with torch.load; `flat(name)` is a 1-D view (of the map when mapped)."""

    def __init__(self, path: str | os.PathLike[str], trust_pickle: bool = False) -> None:
        self.path = Path(path)
        self.mapped = False
        self.tensors = _flatten(self.path, _load(self.path, trust_pickle, self))
        self.metadata: dict[str, str] = {}
        self.infos = {
            name: TensorInfo(name=name, dtype=dtype_code(t.dtype), torch_dtype=t.dtype, shape=tuple(t.shape),
                             numel=t.numel(), itemsize=t.element_size(), offset=0, file=self.path)
            for name, t in self.tensors.items()
        }

    def flat(self, name: str) -> torch.Tensor:
        tensor = self.tensors[name]
        return tensor.reshape(-1) if tensor.is_contiguous() else tensor.contiguous().reshape(-1)

    def release(self, name: str, start: int, stop: int) -> None:
        """Give back the mapped pages of elements [start, stop) (mapped zip checkpoints only).

        torch maps the file privately and we never write to it, so MADV_DONTNEED only drops clean
        pages, which the kernel re-reads from the file if they are touched again."""
        self._advise(name, start, stop, _MADV_DONTNEED)

    def prefetch(self, name: str, start: int, stop: int) -> None:
        """Ask the kernel to read elements [start, stop) ahead (mapped zip checkpoints only)."""
        self._advise(name, start, stop, _MADV_WILLNEED)

    def _advise(self, name: str, start: int, stop: int, advice: int) -> None:
        if not self.mapped or _MADVISE is None or stop <= start:
            return
        tensor = self.tensors[name]
        if not tensor.is_contiguous() or tensor.numel() == 0:
            return
        first = tensor.data_ptr() + start * tensor.element_size()
        last = tensor.data_ptr() + stop * tensor.element_size()
        begin = first - first % _PAGE
        if last > begin:
            _MADVISE(ctypes.c_void_p(begin), ctypes.c_size_t(last - begin), advice)

    def close(self) -> None:
        self.tensors = {}


def _load(path: Path, trust_pickle: bool, owner: TorchFile) -> object:
    if not path.is_file():
        raise BadInputError(f"{path}: not a file; pass a .bin/.pt/.pth/.ckpt file")
    try:
        is_zip = zipfile.is_zipfile(path)
    except zipfile.BadZipFile:  # a damaged zip directory; torch.load below says what is wrong
        is_zip = False
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the file ({exc})") from None
    obj = load_torch_file(path, trust_pickle, mmap=is_zip)
    owner.mapped = is_zip
    return obj


def _flatten(path: Path, obj: object) -> dict[str, torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return {"tensor": obj}
    if not isinstance(obj, Mapping):
        raise BadInputError(f"{path}: expected a state dict (a mapping of names to tensors); the file holds "
                            f"a {type(obj).__name__}")
    if not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in STATE_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    tensors: dict[str, torch.Tensor] = {}
    _collect(obj, "", tensors)
    if not tensors:
        raise BadInputError(f"{path}: the checkpoint holds no tensors (top-level keys: "
                            f"{', '.join(map(str, list(obj)[:8]))})")
    return tensors


def _collect(obj: object, prefix: str, out: dict[str, torch.Tensor]) -> None:
    if isinstance(obj, torch.Tensor):
        out[prefix.rstrip(".")] = obj.detach()
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            _collect(value, f"{prefix}{key}.", out)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            _collect(value, f"{prefix}{index}.", out)


def _libc_madvise():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_MADVISE = _libc_madvise() if hasattr(mmap, "MADV_DONTNEED") else None
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", 4)
_MADV_WILLNEED = getattr(mmap, "MADV_WILLNEED", 3)
