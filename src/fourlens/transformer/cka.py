"""Linear centered kernel alignment (Kornblith et al. 2019, "Similarity of neural network
representations revisited").

For activations X (n, d1) and Y (n, d2) of the same n examples, with columns centered:

    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)

It is 1 for identical representations, invariant to orthogonal transforms and isotropic scaling of
either side (not to arbitrary invertible linear maps), and comparable across layers of different widths.
"""

from __future__ import annotations

import torch

from fourlens.errors import BadInputError


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA between two (n, d) activation matrices over the same n examples (float64 inside)."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.dim() != 2 or y.dim() != 2:
        raise BadInputError(f"linear_cka takes two (n, d) matrices; got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise BadInputError(f"linear_cka needs the same examples (rows) on both sides; got {x.shape[0]} and "
                            f"{y.shape[0]} rows")
    if x.shape[0] < 2:
        raise BadInputError("linear_cka needs at least 2 examples")
    x = x.double() - x.double().mean(0, keepdim=True)
    y = y.double() - y.double().mean(0, keepdim=True)
    if x.shape[0] >= max(x.shape[1], y.shape[1]):
        # the d x d form is cheaper than n x n Gram matrices when n (tokens) exceeds d
        cross = (y.T @ x).norm() ** 2
        denominator = (x.T @ x).norm() * (y.T @ y).norm()
    else:  # few examples (e.g. bootstrap resamples of probe tokens): ||Y^T X||_F^2 = <X X^T, Y Y^T>_F
        gram_x, gram_y = x @ x.T, y @ y.T  # (n, n), centered since x and y are
        cross = (gram_x * gram_y).sum()
        denominator = gram_x.norm() * gram_y.norm()
    if float(denominator) == 0.0:
        raise BadInputError("linear_cka is undefined for a constant representation (zero variance)")
    return float(cross / denominator)
