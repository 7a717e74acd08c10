"""The numba kernels behind `fourlens.weights.fused` (importing this module imports numba).

They live at module level so that numba's on-disk cache finds them again in the next process
(closures built per call would miss it and compile anew, ~0.5 s each).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_SIGN_OFF = np.uint32(0x7FFFFFFF)
# reassoc lets LLVM split each sum into SIMD lanes; no nnan/ninf, so NaN and Inf still propagate
_OPTIONS = {"cache": True, "nogil": True, "boundscheck": False, "fastmath": {"reassoc", "contract"}}


@intrinsic
def bf16_to_f32(typingctx, bits):
    """A bf16 bit pattern as the float32 it is the top half of: zero-extend, shift left 16, bitcast."""
    if bits != types.uint16:
        return None

    def codegen(context, builder, signature, args):
        wide = builder.zext(args[0], ir.IntType(32))
        return builder.bitcast(builder.shl(wide, ir.Constant(ir.IntType(32), 16)), ir.FloatType())

    return types.float32(types.uint16), codegen


@intrinsic
def f32_bits(typingctx, value):
    """The bit pattern of a float32 as a uint32 (free: a register reinterpretation)."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


@njit(**_OPTIONS)
def _add(a, b, aa, bb, dd, top):
    """One element pair into the running sums; a and b are float32 scalars."""
    d = b - a
    a64, b64, d64 = np.float64(a), np.float64(b), np.float64(d)
    return aa + a64 * a64, bb + b64 * b64, dd + d64 * d64, max(top, f32_bits(d) & _SIGN_OFF)


@njit(**_OPTIONS)
def pair_bf16(x, y):
    """x, y: uint16 arrays of bf16 bit patterns -> (sum a^2, sum b^2, sum (b - a)^2, bits of max |b - a|)."""
    aa = bb = dd = 0.0
    top = np.uint32(0)
    for i in range(x.shape[0]):
        aa, bb, dd, top = _add(bf16_to_f32(x[i]), bf16_to_f32(y[i]), aa, bb, dd, top)
    return aa, bb, dd, top


@njit(**_OPTIONS)
def pair_f32(x, y):
    """x, y: float32 arrays -> (sum a^2, sum b^2, sum (b - a)^2, bits of max |b - a|)."""
    aa = bb = dd = 0.0
    top = np.uint32(0)
    for i in range(x.shape[0]):
        aa, bb, dd, top = _add(x[i], y[i], aa, bb, dd, top)
    return aa, bb, dd, top
