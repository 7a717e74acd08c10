import math

import numpy as np
import pytest
from scipy.stats.contingency import association

from fourlens.data.distances import cramers_v, js_distance, psi, token_contrast, two_proportion_p


def test_js_distance_matches_the_definition():
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.6, 0.3])
    m = (p + q) / 2
    kl = lambda a, b: float(np.sum(a * np.log2(a / b)))  # noqa: E731
    assert js_distance(p, q) == pytest.approx(math.sqrt(0.5 * kl(p, m) + 0.5 * kl(q, m)))
    assert js_distance(p, p) == 0.0
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


def test_psi_floors_empty_bins():
    value = psi(np.array([50, 50, 0]), np.array([40, 40, 20]))
    expected = sum((q - p) * math.log(q / p) for p, q in [(0.5, 0.4), (0.5, 0.4), (1e-4, 0.2)])
    assert value == pytest.approx(expected)
    assert math.isfinite(value)


def test_cramers_v_matches_scipy():
    table = np.array([[300, 200, 100], [250, 260, 40]])
    assert cramers_v(table)[0] == pytest.approx(association(table, method="cramer"))


def test_two_proportion_p_against_statsmodels_formula():
    # z = (0.6 - 0.5) / sqrt(0.55 * 0.45 * (2 / 1000)) = 4.494...
    from scipy.stats import norm

    assert two_proportion_p(500, 1000, 600, 1000) == pytest.approx(2 * norm.sf(0.1 / math.sqrt(0.55 * 0.45 * 0.002)))


def test_monroe_weighted_log_odds_by_hand():
    a, b = {"x": 10, "y": 90}, {"x": 30, "y": 70}
    table = token_contrast(a, b).set_index("token")
    alpha = {"x": 40.0, "y": 160.0}
    alpha0, n = 200.0, 100.0
    for token in ("x", "y"):
        ya, yb, al = a[token], b[token], alpha[token]
        delta = math.log((yb + al) / (n + alpha0 - yb - al)) - math.log((ya + al) / (n + alpha0 - ya - al))
        assert table.loc[token, "log_odds"] == pytest.approx(delta)
        assert table.loc[token, "z"] == pytest.approx(delta / math.sqrt(1 / (ya + al) + 1 / (yb + al)))
    assert table.loc["x", "z"] > 0 > table.loc["y", "z"]
    assert table.loc["x", "log2_ratio"] == pytest.approx(math.log2((31 / 102) / (11 / 102)))
