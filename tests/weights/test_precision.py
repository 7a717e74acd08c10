"""The default arithmetic (one compiled pass per chunk, or torch's float32 SIMD passes; float64 across
chunks) against float64 references. Every test runs both kernels: "fused" (numba, fourlens.weights.fused)
and "torch" (the passes used when numba is not installed).

The kernels run at memory-bandwidth speed; these tests hold the speed-up to its accuracy promise: the
relative change within 1e-6 of the float64 value (the documented bound is 1e-5) on realistic
tensors, down to changes of 1e-6 relative, NaN/Inf counted exactly, and no float32 overflow on huge
finite values."""

from __future__ import annotations

import pytest
import torch

from fourlens.weights import compare, fused
from fourlens.weights.pair_stats import DEFAULT_CHUNK, ChunkEngine, Side

KERNELS = pytest.mark.parametrize("kernel", ["fused", "torch"])


def test_the_fused_kernels_are_installed_where_the_tests_run() -> None:
    # the dev extra brings numba (weights extra); without it every "fused" test below would error
    assert fused.available()


def reference(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """float64 statistics over the positions where both are finite, and the non-finite counts."""
    x, y = a.double().reshape(-1), b.double().reshape(-1)
    keep = torch.isfinite(x) & torch.isfinite(y)
    x, y = x[keep], y[keep]
    return {"norm_a": x.norm().item(), "norm_b": y.norm().item(), "diff_norm": (y - x).norm().item(),
            "rel_change": ((y - x).norm() / x.norm()).item(), "max_abs_diff": (y - x).abs().max().item(),
            "nonfinite_a": int((~torch.isfinite(a.double())).sum()),
            "nonfinite_b": int((~torch.isfinite(b.double())).sum())}


def realistic_pair() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Weights of init scale 0.02 in several dtypes, each > 1 chunk, with relative changes from 1e-1
    down to 1e-6 (the smallest float32 can carry; bf16/fp16 round such changes away)."""
    g = torch.Generator().manual_seed(0)
    n = 3 * DEFAULT_CHUNK + 12344  # several chunks and a partial one
    a, b = {}, {}
    for dtype, scales in ((torch.float32, (1e-1, 1e-3, 1e-6)), (torch.bfloat16, (1e-1, 1e-2)),
                          (torch.float16, (1e-1, 1e-3))):
        for scale in scales:
            name = f"{str(dtype).split('.')[-1]}_{scale:g}"
            base = torch.randn(n, generator=g) * 0.02
            a[name] = base.to(dtype).reshape(-1, 8)
            b[name] = (base * (1 + scale * torch.randn(n, generator=g))).to(dtype).reshape(-1, 8)
    # a change confined to a few elements (a sparse fine-tune): ~1e-6 relative overall
    base = torch.randn(n, generator=g) * 0.02
    sparse = base.clone()
    sparse[:: 100_000] += 1e-5
    a["float32_sparse"], b["float32_sparse"] = base, sparse
    # float64 weights are computed in float64 (a float32 upcast would round a 1e-9 change away)
    base = torch.randn(n, generator=g, dtype=torch.float64) * 0.02
    a["float64_1e-9"], b["float64_1e-9"] = base, base * (1 + 1e-9 * torch.randn(n, generator=g, dtype=torch.float64))
    # a dtype change (bf16 -> fp16) and fp8 weights: upcast to float32 before the float32 kernel
    base = torch.randn(n, generator=g) * 0.02
    a["bf16_to_fp16"], b["bf16_to_fp16"] = base.bfloat16(), (base * 1.01).half()
    a["fp8_e4m3"], b["fp8_e4m3"] = base.to(torch.float8_e4m3fn), (base * 1.1).to(torch.float8_e4m3fn)
    return a, b


@KERNELS
@pytest.mark.parametrize("io", ["pread", "mmap"])
def test_default_arithmetic_is_within_1e6_of_float64(write_st, io: str, kernel: str) -> None:
    a, b = realistic_pair()
    result = compare(write_st("a.safetensors", a), write_st("b.safetensors", b), io=io, workers=2, kernel=kernel)
    table = result.table.set_index("name")
    for name in a:
        expected = reference(a[name], b[name])
        row = table.loc[name]
        assert abs(row["rel_change"] / expected["rel_change"] - 1) <= 1e-6, (name, row["rel_change"], expected)
        for column in ("norm_a", "norm_b", "diff_norm"):
            assert row[column] == pytest.approx(expected[column], rel=1e-6), (name, column)
        assert row["max_abs_diff"] == pytest.approx(expected["max_abs_diff"], rel=1e-6), name
    assert table.loc["float32_1e-06", "rel_change"] == pytest.approx(1e-6, rel=0.01)
    assert table.loc["float64_1e-9", "rel_change"] == pytest.approx(
        reference(a["float64_1e-9"], b["float64_1e-9"])["rel_change"], rel=1e-12)


@KERNELS
def test_nonfinite_counts_are_exact_across_chunks(write_st, kernel: str) -> None:
    g = torch.Generator().manual_seed(1)
    n = 2 * DEFAULT_CHUNK + 999
    a = (torch.randn(n, generator=g) * 0.02).bfloat16()
    b = (a.float() + torch.randn(n, generator=g) * 1e-3).bfloat16()
    bad_b = torch.randint(0, n, (37,), generator=g).unique()
    b[bad_b[::2]] = float("nan")
    b[bad_b[1::2]] = float("inf")
    a[[5, DEFAULT_CHUNK + 7, n - 1]] = float("-inf")  # in a too, in three different chunks
    result = compare(write_st("a.safetensors", {"w": a}), write_st("b.safetensors", {"w": b}), kernel=kernel)
    row, expected = result.table.iloc[0], reference(a, b)
    assert row["nonfinite_a"] == expected["nonfinite_a"] == 3
    assert row["nonfinite_b"] == expected["nonfinite_b"] == len(bad_b)
    for column in ("norm_a", "norm_b", "diff_norm", "rel_change", "max_abs_diff"):
        assert row[column] == pytest.approx(expected[column], rel=1e-5), column


@KERNELS
def test_huge_finite_values_do_not_overflow_float32(write_st, kernel: str) -> None:
    a = torch.full((1000,), 3e20)  # finite in float32, but its square is not
    b = a * 1.5
    result = compare(write_st("a.safetensors", {"w": a}), write_st("b.safetensors", {"w": b, "extra": a}),
                     kernel=kernel)
    table = result.table.set_index("name")
    assert table.loc["w", "nonfinite_a"] == 0 and table.loc["w", "nonfinite_b"] == 0
    assert table.loc["w", "rel_change"] == pytest.approx(0.5, rel=1e-6)
    assert table.loc["w", "norm_b"] == pytest.approx(reference(a, b)["norm_b"], rel=1e-6)
    assert table.loc["extra", "norm_b"] == pytest.approx(a.double().norm().item(), rel=1e-6)


def test_compute_dtype_follows_the_stored_dtypes() -> None:
    engine = ChunkEngine(precision="auto")
    for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.int8, torch.bool):
        assert engine.compute_dtype(Side(torch.zeros(2, dtype=dtype))) == torch.float32, dtype
    for dtype in (torch.float64, torch.int32, torch.int64):
        assert engine.compute_dtype(Side(torch.zeros(2, dtype=dtype))) == torch.float64, dtype
    assert ChunkEngine(precision="float64").compute_dtype(Side(torch.zeros(2))) == torch.float64
    with pytest.raises(ValueError, match="precision"):
        ChunkEngine(precision="float16")
    with pytest.raises(ValueError, match="kernel"):
        ChunkEngine(kernel="cuda")
