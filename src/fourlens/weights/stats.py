"""Streaming statistics of one tensor pair, chunk by chunk, in float64.

Every chunk is converted exactly to float64 (bf16, fp16, fp8 and integers all embed in float64),
and the products, differences and sums are float64 (`precision="float32"` trades that for speed, see
`PRECISIONS`); the per-chunk partial sums are added in float64 in chunk order, so results do not
depend on thread timing.

Memory: a worker owns three float64 buffers of `chunk` elements (a, b, b - a: 3 MiB at the default
128K elements) and two raw byte buffers that pread fills; when reading through a memory map it hands
its chunk's pages back to the kernel once they are converted. So the resident set stays at a few
chunks per worker however large a tensor is.

Speed: chunks are small enough that the buffers stay in cache across the passes, and the workers
(threads; torch releases the GIL) each run torch single-threaded, which avoids OpenMP's spin-waits
when the machine is shared. While a worker computes, it asks the kernel to read ahead the chunks
that follow (`prefetch`), so cold reads from disk overlap with computation.

Non-finite values: sums are taken over the positions where both tensors are finite, and
`nonfinite_a`/`nonfinite_b` count the rest. The fast path assumes finite values and checks it for
free (a sum of squares of finite float32-range values is finite); a chunk with NaN/Inf is recomputed
with a mask.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

DEFAULT_CHUNK = 1 << 17  # elements per chunk (3 float64 buffers: 3 MiB per worker)
PREFETCH_CHUNKS = 8      # how far ahead of the chunk being computed the kernel is asked to read
PageHook = Callable[[int, int], None]
# "float64" (default): exact upcast, float64 products and sums. "float32": for 16- and 8-bit weights
# the upcast and the products are still exact, and only the sums within one chunk round in float32
# (relative error ~1e-6); chunk totals are still added in float64. About twice as fast on CPU.
PRECISIONS = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class PairStats:
    """Sums over the positions where both tensors are finite, plus non-finite counts."""

    numel: int
    sum_aa: float
    sum_bb: float
    sum_ab: float
    sum_dd: float
    max_abs_diff: float
    nonfinite_a: int
    nonfinite_b: int

    @property
    def norm_a(self) -> float:
        return math.sqrt(self.sum_aa)

    @property
    def norm_b(self) -> float:
        return math.sqrt(self.sum_bb)

    @property
    def diff_norm(self) -> float:
        return math.sqrt(self.sum_dd)

    @property
    def rel_change(self) -> float:
        """||b - a|| / ||a||: 0 for identical tensors; inf when a is all zeros and b is not."""
        if self.sum_aa > 0:
            return self.diff_norm / self.norm_a
        return 0.0 if self.sum_dd == 0 else math.inf

    @property
    def cosine(self) -> float:
        """<a, b> / (||a|| ||b||); NaN when either tensor is all zeros."""
        denominator = math.sqrt(self.sum_aa) * math.sqrt(self.sum_bb)
        return self.sum_ab / denominator if denominator > 0 else math.nan


@dataclass(frozen=True)
class Side:
    """One tensor to stream: either a 1-D view (`flat`, e.g. of a memory map) or a `read(start, stop,
    buffer)` that fills a uint8 buffer and returns the typed elements; plus page hooks."""

    flat: torch.Tensor | None = None
    read: Callable[[int, int, torch.Tensor], torch.Tensor] | None = None
    numel: int = -1
    prefetch: PageHook | None = None
    release: PageHook | None = None

    def __post_init__(self) -> None:
        if (self.flat is None) == (self.read is None):
            raise ValueError("a Side needs exactly one of flat (a 1-D view) or read (a chunk reader)")
        if self.flat is not None:
            object.__setattr__(self, "numel", self.flat.numel())
        elif self.numel < 0:
            raise ValueError("a Side with a reader needs its numel")


class ChunkEngine:
    """A pool of worker threads, each with its own float64 buffers; use as a context manager."""

    def __init__(self, chunk: int = DEFAULT_CHUNK, workers: int = 2, precision: str = "float64") -> None:
        if chunk < 1 or workers < 1:
            raise ValueError(f"chunk and workers must be positive; got chunk={chunk}, workers={workers}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self.dtype = PRECISIONS[precision]
        self.chunk = chunk
        self.workers = workers
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ChunkEngine:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fourlens-weights",
                                        initializer=torch.set_num_threads, initargs=(1,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _buffers(self) -> torch.Tensor:
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = torch.empty(3, self.chunk, dtype=self.dtype)  # rows a, b, b - a
            # raw bytes of a's and b's chunks for readers (8 bytes: the widest element)
            self._local.raw = torch.empty(2, 8 * self.chunk, dtype=torch.uint8)
        return buffers

    def pair(self, a: Side, b: Side) -> PairStats:
        """Statistics of two 1-D tensors of equal length (any dtypes)."""
        numel = a.numel
        if b.numel != numel:
            raise ValueError(f"pair needs tensors of equal length; got {numel} and {b.numel}")
        starts = range(0, numel, self.chunk)
        parts = self._map(lambda start: self._pair_chunk(a, b, start, min(start + self.chunk, numel)), starts)
        _release_all(a, b)
        totals = [0.0] * 4
        max_diff, bad_a, bad_b = 0.0, 0, 0
        for sums, chunk_max, chunk_bad_a, chunk_bad_b in parts:  # chunk order: deterministic sums
            totals = [t + s for t, s in zip(totals, sums, strict=True)]
            max_diff = max(max_diff, chunk_max)
            bad_a += chunk_bad_a
            bad_b += chunk_bad_b
        return PairStats(numel, *totals, max_abs_diff=max_diff, nonfinite_a=bad_a, nonfinite_b=bad_b)

    def single(self, a: Side) -> tuple[float, int]:
        """(sum of squares over finite values, non-finite count) of one 1-D tensor."""
        numel = a.numel
        parts = self._map(lambda start: self._single_chunk(a, start, min(start + self.chunk, numel)),
                          range(0, numel, self.chunk))
        _release_all(a)
        return sum(p[0] for p in parts), sum(p[1] for p in parts)

    def _map(self, function: Callable, starts: range) -> list:
        if self._pool is None:
            raise RuntimeError("ChunkEngine must be used as a context manager: with ChunkEngine() as engine")
        return list(self._pool.map(function, starts))

    def _load(self, side: Side, slot: int, start: int, stop: int) -> torch.Tensor:
        if side.prefetch is not None:
            ahead = stop + PREFETCH_CHUNKS * self.chunk
            side.prefetch(min(ahead, side.numel), min(ahead + self.chunk, side.numel))
        out = self._buffers()[slot, : stop - start]
        source = side.flat[start:stop] if side.flat is not None else side.read(start, stop, self._local.raw[slot])
        out.copy_(source)  # upcast (exact to float64)
        if side.release is not None:
            side.release(start, stop)
        return out

    def _pair_chunk(self, a: Side, b: Side, start: int, stop: int) -> tuple[list[float], float, int, int]:
        buffers = self._buffers()
        x = self._load(a, 0, start, stop)  # (n,)
        y = self._load(b, 1, start, stop)  # (n,)
        d = torch.sub(y, x, out=buffers[2, : stop - start])  # (n,)
        sums = _sums(x, y, d)
        if math.isfinite(sums[0]) and math.isfinite(sums[1]):
            return sums, _max_abs(d), 0, 0
        finite_x, finite_y = torch.isfinite(x), torch.isfinite(y)
        both = finite_x & finite_y
        x, y, d = x[both], y[both], d[both]
        return _sums(x, y, d), _max_abs(d), int((~finite_x).sum()), int((~finite_y).sum())

    def _single_chunk(self, a: Side, start: int, stop: int) -> tuple[float, int]:
        x = self._load(a, 0, start, stop)  # (n,)
        value = float(torch.dot(x, x))
        if math.isfinite(value):
            return value, 0
        finite = torch.isfinite(x)
        x = x[finite]
        return float(torch.dot(x, x)), int((~finite).sum())


def _release_all(*sides: Side) -> None:
    """Release a whole tensor once its chunks are done: the kernel's fault-around maps a few pages
    next to each faulting one, including pages of chunks already released, and those would stay."""
    for side in sides:
        if side.release is not None and side.numel > 0:
            side.release(0, side.numel)


def _sums(x: torch.Tensor, y: torch.Tensor, d: torch.Tensor) -> list[float]:
    """[sum aa, sum bb, sum ab, sum dd] with three dot products: <a, b> = (aa + bb - dd) / 2 is
    exact algebra, and its rounding error (~eps (aa + bb)) is negligible for the cosine it feeds."""
    if x.numel() == 0:
        return [0.0] * 4
    aa, bb, dd = torch.stack([torch.dot(x, x), torch.dot(y, y), torch.dot(d, d)]).tolist()
    return [aa, bb, 0.5 * (aa + bb - dd), dd]


def _max_abs(d: torch.Tensor) -> float:
    if d.numel() == 0:
        return 0.0
    low, high = torch.aminmax(d)  # one pass; faster than vector_norm(ord=inf) on CPU
    return max(float(high), -float(low))
