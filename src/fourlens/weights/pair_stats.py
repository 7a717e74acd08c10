"""Streaming statistics of one tensor pair, chunk by chunk.

Arithmetic (`precision="auto"`, the default): when both dtypes embed exactly in float32 (F32, F16,
BF16, FP8, 8/16-bit integers, bool), d = b - a is formed in float32 element by element (never
||a||^2 + ||b||^2 - 2<a, b>, which cancels catastrophically when the change is tiny); otherwise (F64,
32/64-bit integers) every chunk is computed in float64. Chunk totals are added in float64 in chunk
order, so results do not depend on thread timing. `precision="float64"` computes every chunk in
float64 (exact upcast, rounding ~1e-16), about 2-4x slower. tests/weights/test_precision.py holds
both kernels to float64 references.

Kernels (`kernel=`): with numba installed ("auto"), a chunk pair is read once by a compiled kernel
(`fourlens.weights.fused`: float64 sums of exact float32 squares, one pass; bf16 and float32 read in
place, other float32-exact dtypes upcast first). Without numba ("torch"), torch makes six passes:
upcast a and b, subtract, min/max, square, and its cascaded float32 row sum (relative error ~1e-7
per chunk; BLAS sdot, equally fast, accumulates sequentially and errs more).

Memory: a worker owns three float32 buffers of `chunk` elements (touched only by torch's passes and
for dtypes the kernels do not read in place; torch's chunk, 256K, keeps them in the L2/L3 cache
across its passes; smaller chunks cost more in per-chunk Python and thread hand-offs than they
save), float64 ones only when a tensor needs them, and two raw byte buffers that pread fills; when
reading through a memory map it hands its chunk's pages back to the kernel once they are read. So
the resident set stays at a few chunks per worker however large a tensor is.

Speed: the workers (threads; torch and the numba kernels release the GIL) each run torch
single-threaded, which avoids OpenMP's spin-waits when the machine is shared. While a worker
computes, it asks the kernel to read ahead the chunks that follow (`prefetch`), so cold reads from
disk overlap with computation.

Non-finite values: sums are taken over the positions where both tensors are finite, and
`nonfinite_a`/`nonfinite_b` count the rest. The fast paths count nothing: a finite sum of squares
proves that a chunk holds no NaN/Inf. A chunk whose sums are not finite (NaN/Inf, or, in torch's
float32 sums, overflow of huge finite values) is recomputed in float64 with a mask, and its NaN/Inf
counted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from fourlens.weights import fused

# Elements per chunk. The one-pass kernels read the raw chunk once: 1M elements (2 MiB per bf16 side)
# is the fastest size; torch's six passes want their three float32 rows (3 MiB at 256K) to stay in
# cache. The timings of each size are in benchmarks/README.md (weights).
DEFAULT_CHUNK = 1 << 20
TORCH_CHUNK = 1 << 18
PREFETCH_CHUNKS = 8      # how far ahead of the chunk being computed the kernel is asked to read
GROUP_CHUNKS = 32        # consecutive chunks per worker task
PageHook = Callable[[int, int], None]
PRECISIONS = ("auto", "float64")
KERNELS = ("auto", "fused", "torch")
# dtypes whose every value is exactly a float32 (so b - a and the squares start from exact values)
EXACT_IN_FLOAT32 = frozenset(
    getattr(torch, name) for name in ("float32", "float16", "bfloat16", "int8", "uint8", "int16", "uint16", "bool",
                                      "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                                      "float8_e8m0fnu") if hasattr(torch, name))


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
    buffer)` that fills a uint8 buffer and returns the typed elements (`dtype` says which; unknown
    means float64 arithmetic); plus page hooks."""

    flat: torch.Tensor | None = None
    read: Callable[[int, int, torch.Tensor], torch.Tensor] | None = None
    numel: int = -1
    prefetch: PageHook | None = None
    release: PageHook | None = None
    dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        if (self.flat is None) == (self.read is None):
            raise ValueError("a Side needs exactly one of flat (a 1-D view) or read (a chunk reader)")
        if self.flat is not None:
            object.__setattr__(self, "numel", self.flat.numel())
            object.__setattr__(self, "dtype", self.flat.dtype)
        elif self.numel < 0:
            raise ValueError("a Side with a reader needs its numel")


class ChunkEngine:
    """A pool of worker threads, each with its own buffers; use as a context manager."""

    def __init__(self, chunk: int | None = None, workers: int = 2, precision: str = "auto",
                 kernel: str = "auto") -> None:
        if (chunk is not None and chunk < 1) or workers < 1:
            raise ValueError(f"chunk and workers must be positive; got chunk={chunk}, workers={workers}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}; got {kernel!r}")
        if kernel == "fused" and not fused.available():
            raise ValueError("kernel='fused' needs numba: pip install 'fourlens[weights]' (or kernel='auto')")
        self.precision = precision
        # "auto": the one-pass numba kernels when installed (fused.py), else torch's passes
        self.fused = kernel != "torch" and fused.available()
        # precision="float64" runs torch's passes on every chunk: their chunk size, not the kernels'
        self.chunk = chunk or (DEFAULT_CHUNK if self.fused and precision == "auto" else TORCH_CHUNK)
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

    def compute_dtype(self, *sides: Side) -> torch.dtype:
        """float32 when every side's values embed exactly in float32 (and precision is "auto")."""
        if self.precision == "auto" and all(side.dtype in EXACT_IN_FLOAT32 for side in sides):
            return torch.float32
        return torch.float64

    def _buffers(self, dtype: torch.dtype) -> torch.Tensor:
        """This thread's (3, chunk) buffers of `dtype`: rows a, b, b - a."""
        local = self._local
        if not hasattr(local, "buffers"):
            local.buffers = {}
            # raw bytes of a's and b's chunks for readers (8 bytes: the widest element); pages are only
            # touched as far as the widest dtype read needs
            local.raw = torch.empty(2, 8 * self.chunk, dtype=torch.uint8)
            local.out = torch.empty(5, dtype=torch.float32)  # aa, bb, dd, min d, max d
        if dtype not in local.buffers:
            local.buffers[dtype] = torch.empty(3, self.chunk, dtype=dtype)
        return local.buffers[dtype]

    def pair(self, a: Side, b: Side) -> PairStats:
        """Statistics of two 1-D tensors of equal length (any dtypes)."""
        numel = a.numel
        if b.numel != numel:
            raise ValueError(f"pair needs tensors of equal length; got {numel} and {b.numel}")
        fast = self.compute_dtype(a, b) == torch.float32
        chunk = self._pair_float32 if fast else self._pair_float64
        parts = self._map(lambda start, stop: chunk(a, b, start, stop), numel)
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
        dtype = self.compute_dtype(a)
        parts = self._map(lambda start, stop: self._single_chunk(a, start, stop, dtype), numel)
        _release_all(a)
        return sum(p[0] for p in parts), sum(p[1] for p in parts)

    def _map(self, function: Callable[[int, int], object], numel: int) -> list:
        """`function(start, stop)` for every chunk, in chunk order. Each task runs a run of consecutive
        chunks (up to GROUP_CHUNKS, fewer so that every worker gets one), because a hand-off to a worker
        thread costs tens of microseconds, as much as computing a chunk."""
        if self._pool is None:
            raise RuntimeError("ChunkEngine must be used as a context manager: with ChunkEngine() as engine")
        starts = range(0, numel, self.chunk)
        per_task = max(1, min(GROUP_CHUNKS, -(-len(starts) // self.workers)))

        def run(group: range) -> list:
            return [function(start, min(start + self.chunk, numel)) for start in group]

        tasks = [starts[i:i + per_task] for i in range(0, len(starts), per_task)]
        return [part for group in self._pool.map(run, tasks) for part in group]

    def _fetch(self, side: Side, slot: int, start: int, stop: int) -> torch.Tensor:
        """Elements [start, stop) of a side in its own dtype: a view of the map, or read into raw slot."""
        if side.prefetch is not None and start % (PREFETCH_CHUNKS * self.chunk) == 0:
            # every PREFETCH_CHUNKS chunks, ask for the PREFETCH_CHUNKS chunks after the next ones
            ahead = start + PREFETCH_CHUNKS * self.chunk
            side.prefetch(min(ahead, side.numel), min(ahead + PREFETCH_CHUNKS * self.chunk, side.numel))
        return side.flat[start:stop] if side.flat is not None else side.read(start, stop, self._local.raw[slot])

    def _load(self, side: Side, out: torch.Tensor, slot: int, start: int, stop: int) -> torch.Tensor:
        out = out[: stop - start]
        out.copy_(self._fetch(side, slot, start, stop))  # upcast (exact: see EXACT_IN_FLOAT32)
        if side.release is not None:
            side.release(start, stop)
        return out

    def _pair_float32(self, a: Side, b: Side, start: int, stop: int) -> tuple[list[float], float, int, int]:
        n = stop - start
        rows = self._buffers(torch.float32)[:, :n]  # (3, n): a, b, b - a
        if self.fused:
            sums = fused.pair_sums(self._fetch(a, 0, start, stop), self._fetch(b, 1, start, stop), rows)
            for side in (a, b):  # after the kernel has read the mapped pages
                if side.release is not None:
                    side.release(start, stop)
            if sums is not None:
                aa, bb, dd, top = sums
                if not math.isfinite(aa + bb):  # NaN/Inf somewhere: the masked float64 path counts them
                    return self._pair_float64(a, b, start, stop)
                return [aa, bb, 0.5 * (aa + bb - dd), dd], top, 0, 0
        x = self._load(a, rows[0], 0, start, stop)
        y = self._load(b, rows[1], 1, start, stop)
        d = torch.sub(y, x, out=rows[2])
        out = self._local.out
        torch.aminmax(d, out=(out[3], out[4]))
        # squares in place, then one row-wise sum: torch's CPU sum is cascaded (pairwise-like), relative
        # error ~1e-7 per chunk; BLAS sdot (torch.dot) accumulates sequentially per lane, an error that
        # grows with the chunk, at the same speed
        rows.square_()
        torch.sum(rows, dim=1, out=out[:3])
        aa, bb, dd, low, high = out.tolist()
        if not (math.isfinite(aa) and math.isfinite(bb)):  # NaN/Inf, or float32 overflow: redo exactly
            return self._pair_float64(a, b, start, stop)
        # <a, b> = (aa + bb - dd) / 2 is exact algebra; its rounding (~eps (aa + bb)) only feeds the cosine
        return [aa, bb, 0.5 * (aa + bb - dd), dd], max(high, -low), 0, 0

    def _pair_float64(self, a: Side, b: Side, start: int, stop: int) -> tuple[list[float], float, int, int]:
        buffers = self._buffers(torch.float64)
        x = self._load(a, buffers[0], 0, start, stop)  # (n,)
        y = self._load(b, buffers[1], 1, start, stop)  # (n,)
        d = torch.sub(y, x, out=buffers[2, : stop - start])  # (n,)
        sums = _sums(x, y, d)
        if math.isfinite(sums[0]) and math.isfinite(sums[1]):
            return sums, _max_abs(d), 0, 0
        finite_x, finite_y = torch.isfinite(x), torch.isfinite(y)
        both = finite_x & finite_y
        x, y, d = x[both], y[both], d[both]
        return _sums(x, y, d), _max_abs(d), int((~finite_x).sum()), int((~finite_y).sum())

    def _single_chunk(self, a: Side, start: int, stop: int, dtype: torch.dtype) -> tuple[float, int]:
        x = self._load(a, self._buffers(dtype)[0], 0, start, stop)  # (n,)
        value = float(torch.dot(x, x))
        if math.isfinite(value):
            return value, 0
        if dtype != torch.float64:  # NaN/Inf, or float32 overflow: redo in float64
            return self._single_chunk(a, start, stop, torch.float64)
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
