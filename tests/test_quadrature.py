"""The shared quadrature rules: exact nodes and weights, and one implementation for images and tokens."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

from fourlens._quadrature import RULES, quadrature


def test_gauss_legendre_nodes_and_weights_are_the_textbook_ones():
    # 2 points on [-1, 1]: +-1/sqrt(3), weights 1; on [0, 1]: (1 -+ 1/sqrt(3)) / 2, weights 1/2
    alphas, weights = quadrature("gausslegendre", 2)
    np.testing.assert_allclose(alphas, [(1 - 1 / math.sqrt(3)) / 2, (1 + 1 / math.sqrt(3)) / 2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(weights, [0.5, 0.5], rtol=0, atol=1e-15)
    # 3 points: 0, +-sqrt(3/5) with weights 8/9, 5/9
    alphas, weights = quadrature("gausslegendre", 3)
    np.testing.assert_allclose(alphas, [(1 - math.sqrt(0.6)) / 2, 0.5, (1 + math.sqrt(0.6)) / 2], atol=1e-15)
    np.testing.assert_allclose(weights, [5 / 18, 8 / 18, 5 / 18], atol=1e-15)


@pytest.mark.parametrize(("rule", "alphas", "weights"), [
    ("riemann_trapezoid", [0, 0.25, 0.5, 0.75, 1], [0.125, 0.25, 0.25, 0.25, 0.125]),
    ("riemann_left", [0, 0.25, 0.5, 0.75], [0.25] * 4),
    ("riemann_right", [0.25, 0.5, 0.75, 1], [0.25] * 4),
    ("riemann_middle", [0.125, 0.375, 0.625, 0.875], [0.25] * 4),
])
def test_riemann_rules(rule, alphas, weights):
    got_alphas, got_weights = quadrature(rule, len(alphas))
    np.testing.assert_allclose(got_alphas, alphas, atol=1e-15)
    np.testing.assert_allclose(got_weights, weights, atol=1e-15)


@pytest.mark.parametrize("rule", RULES)
def test_weights_sum_to_one_and_bad_steps_are_refused(rule):
    assert quadrature(rule, 7)[1].sum() == pytest.approx(1.0, abs=1e-14)
    with pytest.raises(ValueError, match="steps"):
        quadrature(rule, 0)


def test_image_and_token_integrated_gradients_share_the_rules():
    # the packages re-export functions of the same names as these modules
    attribution = importlib.import_module("fourlens.transformer.attribution")
    integrated_gradients = importlib.import_module("fourlens.vision.attribution.integrated_gradients")
    assert integrated_gradients.quadrature is quadrature is attribution.quadrature
    assert integrated_gradients.RULES is RULES
