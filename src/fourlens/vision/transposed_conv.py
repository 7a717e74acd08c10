"""Deconvolution as transposed convolution, as code and as a check: a transposed convolution is a stride-1
convolution.

A transposed convolution ("deconvolution", Zeiler & Fergus 2014; Dumoulin & Visin 2016, "A guide to
convolution arithmetic", section 4) with filter size f, padding p and stride s equals the "sub-pixel"
recipe: insert s - 1 zeros between the inputs, pad each side with f - 1 - p zeros, flip the filters
(and swap their in/out channels), then convolve with stride 1. `zero_insertion_conv_transpose` computes
it that way, and the tests check it against `torch.nn.functional.conv_transpose1d/2d`.

`transposed_conv_example_1d` is the classic 1-D worked example: n_x = 8, f = 4, p = 2, s = 2 gives n_y = 5, the
convolution is y = W x_pad with W of shape (5, 12) acting on the padded input (12 = 8 + 2 * 2), and
the deconvolution is x ~ W^T y, which is exactly `conv_transpose1d(y, w, stride=2, padding=2)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


def _per_dim(value: int | tuple[int, ...], dims: int, what: str) -> tuple[int, ...]:
    values = (value,) * dims if isinstance(value, int) else tuple(value)
    if len(values) != dims or not all(isinstance(v, int) and v >= 0 for v in values):
        raise ValueError(f"{what} must be a non-negative int or a tuple of {dims}; got {value!r}")
    return values


def zero_insertion_conv_transpose(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                                  stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                                  output_padding: int | tuple[int, ...] = 0,
                                  dilation: int | tuple[int, ...] = 1) -> torch.Tensor:
    """`conv_transpose1d/2d(x, weight, bias, stride, padding, output_padding, dilation=dilation)` the sub-pixel way.

    x: (N, C_in, L) or (N, C_in, H, W); weight in torch's transposed layout (C_in, C_out, *k). Steps
    (per spatial axis): (1) insert s - 1 zeros between inputs, (2) pad d(f - 1) - p zeros on each side
    (a negative amount crops) and output_padding more at the end, (3) flip the filter and swap its
    in/out channels, (4) convolve with stride 1.
    """
    dims = x.ndim - 2
    if dims not in (1, 2) or weight.ndim != x.ndim:
        raise ValueError(f"x must be (N, C, L) or (N, C, H, W) with weight (C_in, C_out, *kernel) of the same "
                         f"rank; got x {tuple(x.shape)} and weight {tuple(weight.shape)}")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight has {weight.shape[0]} input channels but x has {x.shape[1]}")
    s = _per_dim(stride, dims, "stride")
    p = _per_dim(padding, dims, "padding")
    op = _per_dim(output_padding, dims, "output_padding")
    d = _per_dim(dilation, dims, "dilation")
    if any(v == 0 for v in s + d):
        raise ValueError("stride and dilation must be positive")
    kernel = weight.shape[2:]
    # (1) zero insertion: (N, C, *n) -> (N, C, *((n - 1) * s + 1)), the inputs land on every s-th position.
    spread = x.new_zeros(*x.shape[:2], *((n - 1) * si + 1 for n, si in zip(x.shape[2:], s, strict=True)))
    spread[(slice(None), slice(None), *(slice(None, None, si) for si in s))] = x
    # (2) padding d(f - 1) - p per side (+ output_padding at the end); F.pad lists the last axis first.
    pads: list[int] = []
    for f, pi, opi, di in reversed(list(zip(kernel, p, op, d, strict=True))):
        edge = di * (f - 1) - pi
        pads += [edge, edge + opi]
    spread = F.pad(spread, pads)
    # (3) flipped filters, (C_in, C_out, *k) -> (C_out, C_in, *k) for an ordinary convolution.
    flipped = weight.flip(list(range(2, weight.ndim))).transpose(0, 1)
    # (4) stride-1 convolution.
    conv = F.conv1d if dims == 1 else F.conv2d
    return conv(spread, flipped, bias, stride=1, dilation=d)


def conv_matrix_1d(w: torch.Tensor, n_padded: int, stride: int) -> torch.Tensor:
    """The matrix W of a single-channel 1-D convolution (cross-correlation, as torch) on an already padded input.

    Row i holds the filter at columns i*s .. i*s + f - 1, so y = W x_pad; shape (n_y, n_padded) with
    n_y = (n_padded - f) // s + 1.
    """
    if w.ndim != 1 or stride < 1 or n_padded < w.numel():
        raise ValueError(f"need a 1-D filter no longer than the padded input and stride >= 1; got filter "
                         f"{tuple(w.shape)}, n_padded={n_padded}, stride={stride}")
    f = w.numel()
    n_y = (n_padded - f) // stride + 1
    matrix = w.new_zeros(n_y, n_padded)
    for i in range(n_y):
        matrix[i, i * stride:i * stride + f] = w
    return matrix


@dataclass(frozen=True)
class TransposedConvExample:
    """The parts of the 1-D worked example (every tensor 1-D except `W`)."""

    x: torch.Tensor                   # (n_x,) the input
    w: torch.Tensor                   # (f,) the filter
    padding: int
    stride: int
    x_padded: torch.Tensor            # (n_x + 2p,)
    W: torch.Tensor                   # (n_y, n_x + 2p): y = W x_padded
    y: torch.Tensor                   # (n_y,) the convolution, equal to conv1d(x, w, stride, padding)
    WT_y: torch.Tensor                # (n_x + 2p,) W^T y on the padded grid
    reconstruction: torch.Tensor      # (n_x,) W^T y with the padding cropped: the deconvolution "x ~ W^T y"
    conv_transpose: torch.Tensor      # (n_x,) conv_transpose1d(y, w, stride, padding): equals `reconstruction`
    zero_insertion: torch.Tensor      # (n_x,) the sub-pixel recipe on y: equals both

    @property
    def n_y(self) -> int:
        return int(self.y.numel())

    def to_dict(self) -> dict:
        return {"n_x": int(self.x.numel()), "f": int(self.w.numel()), "padding": self.padding,
                "stride": self.stride, "n_y": self.n_y, "W_shape": list(self.W.shape),
                **{k: getattr(self, k).tolist() for k in ("x", "w", "y", "reconstruction")},
                "max_difference": float(max((self.reconstruction - self.conv_transpose).abs().max(),
                                            (self.reconstruction - self.zero_insertion).abs().max()))}


def transposed_conv_example_1d(x: torch.Tensor | None = None, w: torch.Tensor | None = None, padding: int = 2,
                       stride: int = 2, seed: int = 0) -> TransposedConvExample:
    """The worked example (defaults: n_x = 8, f = 4, p = 2, s = 2, so n_y = 5 and W is 5 x 12).

    x and w default to seeded float64 values; W^T y is the adjoint of the convolution, an
    approximation of the inverse (exact only when W has orthonormal rows), which is why it is
    written x ~ W^T y.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, generator=gen, dtype=torch.float64) if x is None else x.detach()
    w = torch.randn(4, generator=gen, dtype=torch.float64) if w is None else w.detach()
    if x.ndim != 1 or w.ndim != 1:
        raise ValueError(f"x and w must be 1-D; got shapes {tuple(x.shape)} and {tuple(w.shape)}")
    x_padded = F.pad(x, (padding, padding))
    W = conv_matrix_1d(w, x_padded.numel(), stride)  # noqa: N806 (the matrix's usual name)
    y = W @ x_padded
    WT_y = W.T @ y  # noqa: N806
    n_x = x.numel()
    # output_padding recovers the n_x the stride rounded away (torch's formula gives (n_y-1)s - 2p + f).
    extra = n_x - ((y.numel() - 1) * stride - 2 * padding + w.numel())
    ct = F.conv_transpose1d(y[None, None], w[None, None], stride=stride, padding=padding, output_padding=extra)
    zi = zero_insertion_conv_transpose(y[None, None], w[None, None], stride=stride, padding=padding,
                                       output_padding=extra)
    return TransposedConvExample(x=x, w=w, padding=padding, stride=stride, x_padded=x_padded, W=W, y=y, WT_y=WT_y,
                         reconstruction=WT_y[padding:padding + n_x], conv_transpose=ct[0, 0],
                         zero_insertion=zi[0, 0])
