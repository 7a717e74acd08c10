"""The deconvolution recipe: zero insertion + padding + flipped filters + stride-1 conv == conv_transpose."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from fourlens.vision import TransposedConvExample, transposed_conv_example_1d, zero_insertion_conv_transpose
from fourlens.vision.transposed_conv import conv_matrix_1d


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(("f", "p", "s", "cin", "cout"),
                         [c for c in itertools.product((1, 2, 3, 4, 5), (0, 1, 2), (1, 2, 3), (1, 3), (1, 2))
                          if c[1] < c[0] + 2])
def test_1d_equals_conv_transpose1d(f: int, p: int, s: int, cin: int, cout: int) -> None:
    g = _gen(f * 100 + p * 10 + s)
    x = torch.randn(2, cin, 7, generator=g, dtype=torch.float64)
    w = torch.randn(cin, cout, f, generator=g, dtype=torch.float64)
    b = torch.randn(cout, generator=g, dtype=torch.float64)
    for op in range(s):  # output_padding must be smaller than the stride
        want = F.conv_transpose1d(x, w, b, stride=s, padding=p, output_padding=op)
        got = zero_insertion_conv_transpose(x, w, b, stride=s, padding=p, output_padding=op)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("kernel", "padding", "stride", "output_padding", "dilation", "cin", "cout"), [
    (3, 1, 2, 1, 1, 3, 4), ((4, 2), (1, 0), (2, 3), (0, 2), 1, 2, 5), (5, 2, 1, 0, 1, 1, 1),
    (2, 0, 2, 0, 1, 4, 3), (3, 0, 3, 2, 1, 3, 2), (3, 2, 2, 1, 2, 2, 3), ((1, 3), (0, 3), 1, 0, 1, 3, 3),
])
def test_2d_equals_conv_transpose2d(kernel, padding, stride, output_padding, dilation, cin, cout) -> None:
    g = _gen(7)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = torch.randn(2, cin, 6, 5, generator=g, dtype=torch.float64)
    w = torch.randn(cin, cout, *k, generator=g, dtype=torch.float64)
    b = torch.randn(cout, generator=g, dtype=torch.float64)
    want = F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                              dilation=dilation)
    got = zero_insertion_conv_transpose(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                                        dilation=dilation)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_2d_float32_and_the_adjoint_identity() -> None:
    # conv_transpose is the adjoint of conv: <conv(x), y> = <x, conv_transpose(y)>, here via the recipe.
    g = _gen(3)
    w = torch.randn(3, 4, 3, 3, generator=g)  # conv2d layout (C_out=3, C_in=4) = transposed layout (C_in=3, C_out=4)
    y = F.conv2d(torch.randn(1, 4, 9, 9, generator=g), w, stride=2, padding=1)
    z = torch.randn(1, 4, 9, 9, generator=g)
    lhs = (F.conv2d(z, w, stride=2, padding=1) * y).sum()
    rhs = (z * zero_insertion_conv_transpose(y, w, stride=2, padding=1, output_padding=0)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-5, atol=1e-4)


def test_worked_example_shapes_and_equalities() -> None:
    ex = transposed_conv_example_1d()
    assert isinstance(ex, TransposedConvExample)
    assert ex.x.shape == (8,) and ex.w.shape == (4,) and ex.padding == 2 and ex.stride == 2
    assert ex.n_y == 5 and ex.W.shape == (5, 12) and ex.x_padded.shape == (12,)
    # W holds the filter shifted by the stride on each row, zeros elsewhere.
    for i in range(5):
        torch.testing.assert_close(ex.W[i, 2 * i:2 * i + 4], ex.w)
        assert ex.W[i].count_nonzero() <= 4
    # y = W x_pad is torch's convolution.
    torch.testing.assert_close(ex.y, F.conv1d(ex.x[None, None], ex.w[None, None], stride=2, padding=2)[0, 0])
    # x ~ W^T y: cropped W^T y == conv_transpose1d with the same filter == the recipe with the flipped filter.
    assert ex.WT_y.shape == (12,) and ex.reconstruction.shape == (8,)
    torch.testing.assert_close(ex.reconstruction, ex.conv_transpose, atol=1e-6, rtol=0)
    torch.testing.assert_close(ex.reconstruction, ex.zero_insertion, atol=1e-6, rtol=0)
    # The recipe by hand: 5 inputs -> 9 with zeros -> pad f-1-p = 1 each side -> 11 -> flipped conv -> 8.
    spread = torch.zeros(9, dtype=torch.float64)
    spread[::2] = ex.y
    by_hand = F.conv1d(F.pad(spread, (1, 1))[None, None], ex.w.flip(0)[None, None])[0, 0]
    torch.testing.assert_close(by_hand, ex.reconstruction, atol=1e-6, rtol=0)
    # W^T is the adjoint, not the inverse: the reconstruction is not x for a random filter.
    assert not torch.allclose(ex.reconstruction, ex.x)
    d = ex.to_dict()
    assert d["n_y"] == 5 and d["W_shape"] == [5, 12] and d["max_difference"] < 1e-12


def test_worked_example_is_exact_with_orthonormal_rows() -> None:
    # With non-overlapping unit-norm rows (f = s, p = 0) W W^T = I, so W^T y is the projection of x on W's
    # row space; for an x in that row space, x = W^T y exactly.
    w = torch.tensor([0.6, 0.8], dtype=torch.float64)
    W = conv_matrix_1d(w, 8, 2)  # noqa: N806
    x = W.T @ torch.arange(1.0, 5.0, dtype=torch.float64)
    ex = transposed_conv_example_1d(x, w, padding=0, stride=2)
    torch.testing.assert_close(ex.reconstruction, x)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="input channels"):
        zero_insertion_conv_transpose(torch.zeros(1, 2, 5), torch.zeros(3, 1, 3))
    with pytest.raises(ValueError, match="rank"):
        zero_insertion_conv_transpose(torch.zeros(1, 2, 5), torch.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        zero_insertion_conv_transpose(torch.zeros(1, 2, 5), torch.zeros(2, 1, 3), stride=(1, 2))
    with pytest.raises(ValueError, match="1-D"):
        transposed_conv_example_1d(torch.zeros(2, 8))
