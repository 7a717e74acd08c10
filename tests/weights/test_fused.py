"""The one-pass numba kernels (fourlens.weights.fused) on their own: exact widening, sums, max, fallback."""

from __future__ import annotations

import math

import pytest
import torch

from fourlens.weights import _numba_kernels, fused


def float64_reference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float, float]:
    x, y = a.double(), b.double()
    d = (b.float() - a.float()).double()  # the kernels, like torch's passes, form b - a in float32
    return float((x * x).sum()), float((y * y).sum()), float((d * d).sum()), float(d.abs().max())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float16])
def test_pair_sums_match_float64_with_subnormals_signed_zeros_and_large_values(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(3)
    a = torch.randn(100_003, generator=g) * 0.02
    b = a + torch.randn(100_003, generator=g) * 1e-4
    special = torch.tensor([0.0, -0.0, 1e-40, -1e-39, 6e4, -6e4, 1e-3])  # subnormal in float32/bf16
    a, b = torch.cat([a, special]).to(dtype), torch.cat([b, special.flip(0)]).to(dtype)
    sums = fused.pair_sums(a, b, torch.empty(2, a.numel()))
    assert sums is not None
    for got, expected in zip(sums, float64_reference(a, b), strict=True):
        assert got == pytest.approx(expected, rel=1e-12)


def test_a_nan_or_inf_makes_the_sums_non_finite_so_the_caller_recounts() -> None:
    a = torch.zeros(1000, dtype=torch.bfloat16)
    b = a.clone()
    b[500] = float("nan")
    aa, bb, dd, _ = fused.pair_sums(a, b, torch.empty(2, 1000))
    assert aa == 0 and math.isnan(bb) and math.isnan(dd)  # NaN propagates (no fast-math nnan)
    b[500] = float("-inf")
    _, bb, _, _ = fused.pair_sums(a, b, torch.empty(2, 1000))
    assert bb == float("inf")


def test_a_broken_numba_falls_back_to_torch_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args):
        raise RuntimeError("no locator available for the cache")

    monkeypatch.setattr(_numba_kernels, "pair_bf16", broken)
    fused._kernels.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="torch's passes"):
            assert not fused.available()
        assert fused.pair_sums(torch.zeros(4), torch.zeros(4), torch.empty(2, 4)) is None
    finally:
        monkeypatch.undo()
        fused._kernels.cache_clear()
    assert fused.available()
