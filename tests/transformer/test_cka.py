from __future__ import annotations

import pytest
import torch

from fourlens.errors import BadInputError
from fourlens.transformer import linear_cka


def direct_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Kornblith et al. 2019, eq. (4) through centered Gram matrices: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))."""
    n = x.shape[0]
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    k = h @ (x.double() @ x.double().T) @ h
    l_ = h @ (y.double() @ y.double().T) @ h
    hsic = lambda a, b: (a * b).sum()  # noqa: E731 - tr(K H L H) with K, L already centered
    return float(hsic(k, l_) / torch.sqrt(hsic(k, k) * hsic(l_, l_)))


@pytest.fixture
def activations():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 32, generator=generator, dtype=torch.float64)
    y = x @ torch.randn(32, 48, generator=generator, dtype=torch.float64) + 0.5 * torch.randn(
        200, 48, generator=generator, dtype=torch.float64)
    return x, y, generator


def test_matches_the_gram_matrix_formula(activations):
    x, y, _ = activations
    assert linear_cka(x, y) == pytest.approx(direct_cka(x, y), abs=1e-10)
    z = torch.randn(200, 16, generator=activations[2])
    assert linear_cka(x, z) == pytest.approx(direct_cka(x, z), abs=1e-10)
    assert linear_cka(x, z) < 0.3 < linear_cka(x, y)


def test_one_against_itself(activations):
    x, y, _ = activations
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(y, y) == pytest.approx(1.0, abs=1e-12)


def test_invariant_to_orthogonal_transforms_and_isotropic_scaling(activations):
    x, y, generator = activations
    q, _ = torch.linalg.qr(torch.randn(48, 48, generator=generator, dtype=torch.float64))
    base = linear_cka(x, y)
    assert linear_cka(x, y.double() @ q) == pytest.approx(base, abs=1e-10)
    assert linear_cka(x * 7.5, y * 0.01) == pytest.approx(base, abs=1e-10)
    # not invariant to an arbitrary invertible map (the point of CKA over CCA)
    assert abs(linear_cka(x, y * torch.linspace(0.1, 10, 48, dtype=torch.float64)) - base) > 1e-3


def test_bad_shapes_are_refused():
    with pytest.raises(BadInputError, match="same examples"):
        linear_cka(torch.randn(10, 3), torch.randn(11, 3))
    with pytest.raises(BadInputError, match=r"\(n, d\)"):
        linear_cka(torch.randn(10), torch.randn(10, 3))
    with pytest.raises(BadInputError, match="constant"):
        linear_cka(torch.ones(10, 3), torch.randn(10, 3))


def test_few_examples_use_the_gram_form_and_agree(activations):
    """n < d takes the n x n branch: same value as the formula, and as the d x d form on more rows."""
    generator = activations[2]
    x = torch.randn(20, 64, generator=generator, dtype=torch.float64)
    y = x @ torch.randn(64, 96, generator=generator, dtype=torch.float64) + torch.randn(
        20, 96, generator=generator, dtype=torch.float64)
    assert linear_cka(x, y) == pytest.approx(direct_cka(x, y), abs=1e-10)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
