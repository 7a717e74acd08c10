"""Read a safetensors file tensor by tensor, without the safetensors library.

The format (https://github.com/huggingface/safetensors, "Format"): 8 bytes little-endian u64 N, then N
bytes of UTF-8 JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
(offsets relative to the byte after the header; an optional "__metadata__" maps str -> str), then
the data, little-endian, C order. We parse the header ourselves so that every way a file can be
corrupt or truncated becomes one `BadInputError` naming the file.

Two ways to read the data: `flat(name)`, a zero-copy view of a memory map, and `read(...)`, pread
of a chunk into a reused buffer. Through a map, file-backed pages count in the process's resident
set, so reading a 100 GB file would grow the RSS to 100 GB although nothing is kept; `release` hands
a chunk's pages back (MADV_DONTNEED) once it is converted. pread needs no such care and avoids page
faults, which is why the comparison uses it by default (`compare(..., io="mmap")` uses the map).
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
import warnings
from pathlib import Path

import torch

from fourlens.errors import BadInputError
from fourlens.weights.tensor_info import DTYPES, TensorInfo

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the reference implementation refuses larger headers too

_PAGE = mmap.PAGESIZE


class SafetensorsFile:
    """One open .safetensors file: `infos` from its header, `flat(name)` a zero-copy 1-D view."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.infos, self.metadata, self._data_start = _read_header(self.path)
        self._map: mmap.mmap | None = None
        self._fd: int | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def _mapping(self) -> mmap.mmap:
        if self._map is None:
            size = os.fstat(self._descriptor()).st_size
            if size == 0:  # mmap refuses empty files; a file with no tensors has nothing to map anyway
                raise BadInputError(f"{self.path}: the file is empty; re-save the checkpoint")
            # ACCESS_COPY (a private mapping) gives torch.frombuffer a writable buffer, so it does not
            # warn; nothing is ever written, so no page is ever copied.
            self._map = mmap.mmap(self._descriptor(), size, access=mmap.ACCESS_COPY)
            if hasattr(mmap, "MADV_SEQUENTIAL"):
                self._map.madvise(mmap.MADV_SEQUENTIAL)
        return self._map

    def flat(self, name: str) -> torch.Tensor:
        """The tensor's elements as a 1-D tensor viewing the mapped file (nothing is read yet)."""
        info = self.infos[name]
        if info.numel == 0:
            return torch.empty(0, dtype=info.torch_dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.frombuffer(self._mapping(), dtype=info.torch_dtype, count=info.numel,
                                    offset=self._data_start + info.offset)

    def read(self, name: str, start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
        """Elements [start, stop) of `name`, read with pread into `out` (a uint8 buffer large enough);
        returns the typed view. Thread-safe: pread takes the offset, so no shared file position."""
        info = self.infos[name]
        nbytes = (stop - start) * info.itemsize
        view = out[:nbytes]
        target = memoryview(view.numpy())
        offset = self._data_start + info.offset + start * info.itemsize
        done = 0
        while done < nbytes:
            got = os.preadv(self._descriptor(), [target[done:]], offset + done)
            if got == 0:
                raise BadInputError(f"{self.path}: the file ended while reading tensor {name!r}; it was "
                                    "truncated while being compared? re-save or re-download it")
            done += got
        return view.view(info.torch_dtype)

    def release(self, name: str, start: int, stop: int) -> None:
        """Give back the mapped pages of elements [start, stop) of `name` (re-read on demand)."""
        self._advise(name, start, stop, getattr(mmap, "MADV_DONTNEED", None))

    def prefetch(self, name: str, start: int, stop: int) -> None:
        """Ask the kernel to start reading elements [start, stop) of `name` from disk, asynchronously."""
        if self._map is None:  # reading with pread: advise the file, not a map
            if hasattr(os, "posix_fadvise") and stop > start:
                info = self.infos[name]
                os.posix_fadvise(self._descriptor(), self._data_start + info.offset + start * info.itemsize,
                                 (stop - start) * info.itemsize, os.POSIX_FADV_WILLNEED)
            return
        self._advise(name, start, stop, getattr(mmap, "MADV_WILLNEED", None))

    def _advise(self, name: str, start: int, stop: int, advice: int | None) -> None:
        if self._map is None or advice is None or stop <= start:
            return
        info = self.infos[name]
        first = self._data_start + info.offset + start * info.itemsize
        last = min(self._data_start + info.offset + stop * info.itemsize, len(self._map))
        begin = first - first % _PAGE
        if last > begin:
            self._map.madvise(advice, begin, last - begin)

    def close(self) -> None:
        if self._map is not None:
            # A caller may still hold a view (BufferError); the map then closes when it is collected.
            with contextlib.suppress(BufferError):
                self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_header(path: Path) -> tuple[dict[str, TensorInfo], dict[str, str], int]:
    hint = "the file is corrupt or truncated; re-save or re-download it"
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise BadInputError(f"{path}: {size} bytes is too short for a safetensors file (no header "
                                    f"length); {hint}")
            header_len = int.from_bytes(prefix, "little")
            if header_len > MAX_HEADER_BYTES or header_len > size - 8:
                raise BadInputError(f"{path}: the header claims {header_len:,} bytes but the file has "
                                    f"{size:,}; this is not a safetensors file, or {hint}")
            raw = handle.read(header_len)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the file ({exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: the safetensors header is not valid JSON ({exc}); {hint}") from None
    if not isinstance(header, dict):
        raise BadInputError(f"{path}: the safetensors header must be a JSON object; {hint}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise BadInputError(f"{path}: the header's __metadata__ must be an object of strings; {hint}")
    data_start = 8 + header_len
    data_size = size - data_start
    infos: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        infos[name] = _parse_entry(path, name, entry, data_size, hint)
    _check_overlaps(path, infos, hint)
    return dict(sorted(infos.items(), key=lambda item: item[1].offset)), dict(metadata), data_start


def _parse_entry(path: Path, name: str, entry: object, data_size: int, hint: str) -> TensorInfo:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise BadInputError(f"{path}: header entry {name!r} lacks dtype/shape/data_offsets; {hint}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in DTYPES:
        raise BadInputError(f"{path}: tensor {name!r} has dtype {code!r}, which this torch build cannot "
                            f"read (supported: {', '.join(DTYPES)})")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise BadInputError(f"{path}: tensor {name!r} has an invalid shape {shape!r}; {hint}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise BadInputError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}; {hint}")
    dtype = DTYPES[code]
    itemsize = torch.empty(0, dtype=dtype).element_size()
    numel = math.prod(shape)
    if offsets[1] - offsets[0] != numel * itemsize:
        raise BadInputError(f"{path}: tensor {name!r} ({code} {shape}) needs {numel * itemsize:,} bytes but its "
                            f"data_offsets span {offsets[1] - offsets[0]:,}; {hint}")
    if offsets[1] > data_size:
        raise BadInputError(f"{path}: tensor {name!r} ends at byte {offsets[1]:,} of the data but the file "
                            f"holds only {data_size:,} bytes of data: the file is truncated; re-save or "
                            "re-download it")
    return TensorInfo(name=name, dtype=code, torch_dtype=dtype, shape=tuple(shape), numel=numel,
                      itemsize=itemsize, offset=offsets[0], file=path)


def _check_overlaps(path: Path, infos: dict[str, TensorInfo], hint: str) -> None:
    spans = sorted((info.offset, info.offset + info.nbytes, name) for name, info in infos.items() if info.nbytes)
    for (_, end, name), (begin, _, following) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise BadInputError(f"{path}: tensors {name!r} and {following!r} overlap in the data; {hint}")
