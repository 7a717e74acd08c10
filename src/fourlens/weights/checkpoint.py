"""Open a checkpoint (one file, a sharded index, or a directory) as one name -> tensor mapping.

Accepted:
- a `.safetensors` file, read through a memory map (`SafetensorsFile`);
- a `*.index.json` sharded index (`model.safetensors.index.json` or `pytorch_model.bin.index.json`,
  the Hugging Face layout: {"metadata": ..., "weight_map": {tensor name: shard file}});
- a PyTorch file (.bin/.pt/.pth/.ckpt), read with torch.load(weights_only=True) (`TorchFile`);
- a directory, or a list of files (what a triage bundle holds): an index when there is one, else the
  .safetensors files, else the PyTorch files; several files without an index are read as the shards
  of one checkpoint and must not repeat a tensor name.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from fourlens.errors import BadInputError
from fourlens.weights.pair_stats import Side
from fourlens.weights.safetensors_file import SafetensorsFile
from fourlens.weights.tensor_info import TensorInfo
from fourlens.weights.torch_file import TorchFile

TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
IO_MODES = ("pread", "mmap")
PathLike = str | os.PathLike[str]


class Checkpoint:
    """Tensors of one checkpoint by name, in storage order; data is read only through `flat`."""

    def __init__(self, source: PathLike | Sequence[PathLike], trust_pickle: bool = False) -> None:
        self.source = source
        self.files, index = _resolve(source)
        self.format = "safetensors" if all(f.name.endswith(".safetensors") for f in self.files) else "torch"
        self.index = index
        self._readers: list[SafetensorsFile | TorchFile] = []
        self._owner: dict[str, SafetensorsFile | TorchFile] = {}
        self.infos: dict[str, TensorInfo] = {}
        try:
            self._open(trust_pickle)
        except BaseException:
            self.close()
            raise

    def _open(self, trust_pickle: bool) -> None:
        wanted = _weight_map(self.index) if self.index else None
        for file in self.files:
            reader = SafetensorsFile(file) if file.name.endswith(".safetensors") else TorchFile(file, trust_pickle)
            self._readers.append(reader)
            for name, info in reader.infos.items():
                if wanted is not None and wanted.get(name) != file.name:
                    continue  # the index assigns this name to another shard (or omits it)
                if name in self.infos:
                    raise BadInputError(f"tensor {name!r} appears in both {self.infos[name].file} and {file}; "
                                        "pass the index file, or one checkpoint's files only")
                self.infos[name] = info
                self._owner[name] = reader
        if wanted is not None:
            missing = [name for name in wanted if name not in self.infos]
            if missing:
                raise BadInputError(f"{self.index}: {len(missing)} tensor(s) listed in the index are not in "
                                    f"their shard (e.g. {missing[0]!r} in {wanted[missing[0]]}); the "
                                    "checkpoint is incomplete: re-download or re-save it")

    @property
    def label(self) -> str:
        return str(self.index or (self.files[0] if len(self.files) == 1 else self.files[0].parent))

    @property
    def metadata(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for reader in self._readers:
            merged.update(reader.metadata)
        return merged

    def __contains__(self, name: str) -> bool:
        return name in self.infos

    def __iter__(self) -> Iterator[str]:
        return iter(self.infos)

    def __len__(self) -> int:
        return len(self.infos)

    def flat(self, name: str) -> torch.Tensor:
        """The tensor as a 1-D view; on mapped files nothing is read until elements are touched."""
        return self._owner[name].flat(name)

    def side(self, name: str, io: str = "pread") -> Side:
        """What the chunk engine streams. `io="pread"` reads safetensors chunks with pread into a
        reused buffer; `io="mmap"` (and torch files always) reads through the memory map, handing
        pages back after each chunk."""
        if io not in IO_MODES:
            raise ValueError(f"io must be one of {', '.join(IO_MODES)}; got {io!r}")
        reader = self._owner[name]
        prefetch = functools.partial(reader.prefetch, name)
        if io == "pread" and isinstance(reader, SafetensorsFile):  # nothing mapped: nothing to release
            return Side(read=functools.partial(reader.read, name), numel=self.infos[name].numel,
                        dtype=self.infos[name].torch_dtype, prefetch=prefetch)
        return Side(flat=reader.flat(name), prefetch=prefetch, release=functools.partial(reader.release, name))

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers = []

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_checkpoint(source: PathLike | Sequence[PathLike], trust_pickle: bool = False) -> Checkpoint:
    """Open a checkpoint for streaming; see the module docstring for what `source` may be."""
    return Checkpoint(source, trust_pickle=trust_pickle)


def _resolve(source: PathLike | Sequence[PathLike]) -> tuple[list[Path], Path | None]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise BadInputError(f"checkpoint {path} does not exist; pass a .safetensors/.bin/.pt file, a "
                                "*.index.json sharded index, or the directory that holds them")
        candidates = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        origin = path
    else:
        candidates = []
        for entry in (Path(p).expanduser() for p in source):
            if entry.is_dir():  # a bundle may list a directory of weights
                candidates.extend(sorted(p for p in entry.iterdir() if p.is_file()))
            elif entry.is_file():
                candidates.append(entry)
            else:
                raise BadInputError(f"checkpoint file {entry} does not exist")
        if not candidates:
            raise BadInputError("no checkpoint files given; pass a file, an index or a directory")
        origin = candidates[0].parent
    indexes = [p for p in candidates if p.name.endswith(".index.json")]
    if indexes:
        if len(indexes) > 1:
            safetensors_indexes = [p for p in indexes if p.name.endswith(".safetensors.index.json")]
            if len(safetensors_indexes) != 1:
                raise BadInputError(f"{origin}: several sharded indexes ({', '.join(p.name for p in indexes)}); "
                                    "pass the one to compare")
            indexes = safetensors_indexes
        return _shards(indexes[0]), indexes[0]
    for suffixes in ((".safetensors",), TORCH_SUFFIXES):
        files = [p for p in candidates if p.name.endswith(suffixes)]
        if files:
            return files, None
    if len(candidates) == 1 and not (isinstance(source, (str, os.PathLike)) and Path(source).is_dir()):
        return candidates, None  # an unusual suffix: let torch.load judge the content
    raise BadInputError(f"{origin}: no checkpoint files found (expected *.safetensors, "
                        "*.safetensors.index.json, *.bin, *.pt, *.pth or *.ckpt)")


def _weight_map(index: Path) -> dict[str, str]:
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{index}: cannot read the sharded index ({exc}); re-download or re-save it") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise BadInputError(f"{index}: a sharded index needs a \"weight_map\" object of tensor name -> shard "
                            "file name")
    return weight_map


def _shards(index: Path) -> list[Path]:
    names = sorted(set(_weight_map(index).values()))
    shards = [index.parent / name for name in names]
    absent = [p.name for p in shards if not p.is_file()]
    if absent:
        raise BadInputError(f"{index}: shard file(s) {', '.join(absent[:3])} named in the index are missing "
                            f"from {index.parent}; download every shard, or fix the index")
    return shards
