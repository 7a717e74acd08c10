"""Quadrature rules on [0, 1] for path integrals (integrated gradients on images and on token embeddings).

Each rule gives nodes `alphas` in [0, 1] and weights summing to 1, so that sum_i w_i g(alpha_i)
approximates integral_0^1 g(a) da. Gauss-Legendre (Captum's default) is exact for polynomials of degree
2 * steps - 1; the Riemann rules are Captum's others.
"""

from __future__ import annotations

import numpy as np

RULES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")


def quadrature(rule: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes `alphas` in [0, 1] and weights summing to 1 for the path integral, each of shape (steps,)."""
    if steps < 1 or (rule == "riemann_trapezoid" and steps < 2):
        raise ValueError(f"{rule} needs steps >= {2 if rule == 'riemann_trapezoid' else 1}; got {steps}")
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]; map to [0, 1]
        return (nodes + 1) / 2, weights / 2
    if rule == "riemann_trapezoid":
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, steps), weights
    offsets = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}
    if rule not in offsets:
        raise ValueError(f"unknown quadrature rule {rule!r}; choose one of {', '.join(RULES)}")
    return (np.arange(steps) + offsets[rule]) / steps, np.full(steps, 1.0 / steps)
