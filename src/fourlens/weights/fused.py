"""One-pass kernels for a chunk pair: sum a^2, sum b^2, sum (b - a)^2 and max |b - a| in a single read.

Why: the torch path (pair_stats.py) makes six passes over every chunk (upcast a, upcast b, subtract,
min/max, square, sum), each reading the chunk again; on weights already in the page cache that
arithmetic, not the reading, set the speed (0.43x `cat`). These kernels read each element once, keep
it in registers, and are compiled by numba (the optional `weights` extra; umap-learn in the
`transformer` extra brings it too). Without numba, pair_stats.py keeps its torch path.

Arithmetic: the values are float32 (bf16 is the upper half of a float32, so widening it is a shift);
d = b - a is formed in float32 like the torch path (exact when the exponents of a and b are close, as
for two checkpoints of one model); each square is taken in float64, where the square of a float32 is
exact, and summed in float64 (reassociated into SIMD lanes: the order is fixed by the code, so a
result does not change between runs). The max is taken over the bit patterns of |d| (for non-negative
floats their order is the integers' order), which vectorizes where a float max does not.

Non-finite values: the kernels do not look for them. A NaN or Inf makes a sum non-finite (float64 sums
of float32 squares cannot overflow in a chunk), and the caller then recomputes that chunk with its
masked float64 path, which counts them.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import numpy as np
import torch

Sums = tuple[float, float, float, float]  # sum a^2, sum b^2, sum (b - a)^2, max |b - a|


@functools.cache
def _kernels() -> dict[str, Callable] | None:
    """The compiled kernels by input kind, or None when numba is not installed. Compiled on first
    use and cached on disk by numba, so later processes load them instead of compiling."""
    try:
        from fourlens.weights import _numba_kernels
    except ImportError:
        return None
    kernels = {"bf16": _numba_kernels.pair_bf16, "f32": _numba_kernels.pair_f32}
    try:  # compile or load now: a broken numba install (or no writable cache) must not fail a comparison
        kernels["bf16"](np.zeros(1, dtype=np.uint16), np.zeros(1, dtype=np.uint16))
        kernels["f32"](np.zeros(1, dtype=np.float32), np.zeros(1, dtype=np.float32))
    except Exception as error:  # noqa: BLE001 (any numba failure means: use torch's passes)
        warnings.warn(f"fourlens.weights: numba is installed but its kernels failed ({type(error).__name__}: "
                      f"{error}); comparing with torch's passes instead (about 2x slower on cached files)",
                      RuntimeWarning, stacklevel=2)
        return None
    return kernels


def available() -> bool:
    """Whether the one-pass kernels can run here (numba installed and compiling)."""
    return _kernels() is not None


def warm() -> None:
    """Import numba and start its runtime now (~0.5 s once per process; the compiled kernels come
    from numba's disk cache), so that the first comparison does not pay it. A no-op without numba."""
    _kernels()


def pair_sums(x: torch.Tensor, y: torch.Tensor, scratch: torch.Tensor) -> Sums | None:
    """(sum a^2, sum b^2, sum (b - a)^2, max |b - a|) of two equal-length 1-D CPU tensors, or None
    when numba is missing. bf16 and float32 pairs are read in place; any other dtype whose values are
    float32s (see pair_stats.EXACT_IN_FLOAT32) is first upcast into `scratch`, a (2, >= n) float32 buffer."""
    kernels = _kernels()
    if kernels is None:
        return None
    if x.dtype == y.dtype == torch.bfloat16:
        aa, bb, dd, top = kernels["bf16"](_bits16(x), _bits16(y))
    else:
        if not x.dtype == y.dtype == torch.float32:
            n = x.numel()
            x = scratch[0, :n].copy_(x)  # exact: the caller checked both dtypes embed in float32
            y = scratch[1, :n].copy_(y)
        aa, bb, dd, top = kernels["f32"](x.numpy(), y.numpy())
    return aa, bb, dd, float(np.array([top], dtype=np.uint32).view(np.float32)[0])


def _bits16(t: torch.Tensor) -> np.ndarray:
    """A bf16 tensor's bit patterns as a uint16 NumPy view (NumPy has no bf16), no copy."""
    return t.view(torch.int16).numpy().view(np.uint16)
