"""Intervals, clustered SEs and power against statsmodels/scipy and by simulation."""

import math

import numpy as np
import pytest
from scipy import stats

from fourlens.behavior.intervals import (
    minimum_detectable_effect,
    paired_se,
    sign_flip_interval,
    symmetric_bootstrap_interval,
    t_interval,
    tango_paired_interval,
    wilson_interval,
)
from fourlens.behavior.stats import (
    bootstrap_pvalue,
    mcnemar_exact,
    mcnemar_score,
    paired_bootstrap,
    paired_permutation_pvalue,
)

sm_proportion = pytest.importorskip("statsmodels.stats.proportion")
sm_contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
sm_power = pytest.importorskip("statsmodels.stats.power")


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (17, 40), (40, 40), (512, 1000)])
def test_wilson_matches_statsmodels(k, n):
    expected = sm_proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
    assert wilson_interval(k, n) == pytest.approx(expected, abs=1e-12)


def test_mcnemar_matches_statsmodels_exact():
    rng = np.random.default_rng(4)
    for _ in range(20):
        a = (rng.random(150) < 0.6).astype(float)
        b = np.where(rng.random(150) < 0.7, a, (rng.random(150) < 0.5).astype(float))
        table = [[np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
                 [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))]]
        expected = sm_contingency.mcnemar(table, exact=True).pvalue
        assert mcnemar_exact(a, b) == pytest.approx(min(1.0, expected), rel=1e-9)


def test_clustered_se_matches_statsmodels_cluster_robust_ols():
    import statsmodels.api as sm

    rng = np.random.default_rng(2)
    clusters = np.repeat(np.arange(30), rng.integers(2, 9, size=30))
    shared = rng.normal(0, 1, 30)[clusters]
    diff = 0.1 + shared + rng.normal(0, 0.5, clusters.size)
    fit = sm.OLS(diff, np.ones((diff.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": clusters,
                                                                                    "use_correction": False})
    se, df = paired_se(diff, clusters)
    # statsmodels' default small-sample factor is G/(G-1) * (N-1)/(N-K); ours keeps only G/(G-1).
    assert se == pytest.approx(float(fit.bse[0]) * math.sqrt(30 / 29), rel=1e-9)
    assert df == 29
    naive, _ = paired_se(diff)
    assert se > 1.5 * naive  # clustered items carry less information than independent ones


def _exact_coverage(n, cells, interval):
    """Exact coverage of `interval(a, b)` over every 2x2 table of n paired 0/1 outcomes."""
    e_p, f_p, g_p, h_p = cells  # both right, only a right, only b right, both wrong
    true = g_p - f_p
    coverage = 0.0
    for e in range(n + 1):
        for f in range(n + 1 - e):
            for g in range(n + 1 - e - f):
                h = n - e - f - g
                a = np.array([1] * (e + f) + [0] * (g + h), dtype=float)
                b = np.array([1] * e + [0] * f + [1] * g + [0] * h, dtype=float)
                low, high = interval(a, b)
                coverage += stats.multinomial.pmf([e, f, g, h], n, cells) * (low <= true <= high)
    return coverage


def test_tango_small_n_coverage_is_near_nominal_where_the_t_interval_falls_short():
    # few discordant pairs, the case where the t interval on the paired SE undercovers
    cells = [0.6125, 0.0875, 0.0375, 0.2625]

    def t_ci(a, b):
        return t_interval(float((b - a).mean()), *paired_se(b - a))

    assert _exact_coverage(20, cells, tango_paired_interval) >= 0.95
    assert _exact_coverage(20, cells, t_ci) < 0.92
    # balanced discordance, n = 40: measured 0.956 (Fagerland et al. 2014 report Tango near nominal)
    assert 0.94 <= _exact_coverage(40, [0.4, 0.1, 0.1, 0.4], tango_paired_interval) <= 0.97


def test_tango_inverts_the_score_test_computed_independently():
    """The limits are where the score statistic, with the constrained MLE found by numeric maximisation
    (not the closed form), crosses 1.96; and 0 is inside exactly when McNemar's test keeps it."""
    from scipy import optimize

    def score_by_search(f, g, n, d):
        def negative_log_likelihood(q):
            cells = np.array([q + d, q, 1 - 2 * q - d])
            return -(g * np.log(cells[0]) + f * np.log(cells[1]) + (n - f - g) * np.log(cells[2]))
        low, high = max(0.0, -d) + 1e-12, (1 - d) / 2 - 1e-12
        q = optimize.minimize_scalar(negative_log_likelihood, bounds=(low, high), method="bounded",
                                     options={"xatol": 1e-13}).x
        return (g - f - n * d) / math.sqrt(n * (2 * q + d - d * d))

    for f, g, n in ((12, 2, 55), (3, 9, 40), (20, 21, 300), (0, 4, 30)):
        a = np.array([1] * f + [0] * g + [1] * (n - f - g), dtype=float)
        b = np.array([0] * f + [1] * g + [1] * (n - f - g), dtype=float)
        low, high = tango_paired_interval(a, b)
        for limit in (low, high):
            if -1 < limit < 1:
                assert abs(score_by_search(f, g, n, limit)) == pytest.approx(1.959964, abs=1e-4)
        assert (low <= 0 <= high) == (mcnemar_score(a, b) > 0.05)


def test_mcnemar_score_matches_statsmodels_without_continuity_correction():
    rng = np.random.default_rng(7)
    for _ in range(20):
        a = (rng.random(120) < 0.6).astype(float)
        b = np.where(rng.random(120) < 0.8, a, (rng.random(120) < 0.5).astype(float))
        table = [[np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
                 [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))]]
        expected = sm_contingency.mcnemar(table, exact=False, correction=False).pvalue
        assert mcnemar_score(a, b) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_every_interval_excludes_zero_exactly_when_its_test_rejects(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 200))
    shift = float(rng.choice([0.0, 0.05, 0.15, 0.4]))
    diff = rng.normal(shift, 1.0, n) * rng.choice([0.2, 1.0, 3.0])
    low, high = sign_flip_interval(diff, n_resamples=999, seed=seed)
    assert low <= diff.mean() <= high
    assert (low < 0 < high) == (paired_permutation_pvalue(diff, 999, seed) > 0.05)
    distribution = paired_bootstrap(diff, 999, seed)
    low, high = symmetric_bootstrap_interval(float(diff.mean()), distribution)
    assert (low < 0 < high) == (bootstrap_pvalue(diff, distribution) > 0.05)
    a = (rng.random(n) < 0.6).astype(float)
    b = np.where(rng.random(n) < 0.7, a, (rng.random(n) < 0.6 - shift).astype(float))
    low, high = tango_paired_interval(a, b)
    assert (low <= 0 <= high) == (mcnemar_score(a, b) > 0.05)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9])
def test_paired_t_interval_covers_95_percent_at_several_correlations(keep):
    # b copies a with probability `keep` (correlation ~ keep), else is a fresh draw.
    rng = np.random.default_rng(int(keep * 100))
    n, trials, p_a, fresh = 400, 1000, 0.7, 0.45
    true = keep * p_a + (1 - keep) * fresh - p_a
    covered = 0
    for _ in range(trials):
        a = (rng.random(n) < p_a).astype(float)
        b = np.where(rng.random(n) < keep, a, (rng.random(n) < fresh).astype(float))
        se, df = paired_se(b - a)
        low, high = t_interval(float((b - a).mean()), se, df)
        covered += low <= true <= high
    assert 0.93 <= covered / trials <= 0.97


def test_clustered_interval_covers_where_the_naive_one_does_not():
    rng = np.random.default_rng(5)
    covered_cluster = covered_naive = 0
    trials = 400
    clusters = np.repeat(np.arange(40), 10)
    for _ in range(trials):
        diff = rng.normal(0, 1, 40)[clusters] + rng.normal(0, 0.3, 400)
        mean = float(diff.mean())
        covered_cluster += (lambda ci: ci[0] <= 0 <= ci[1])(t_interval(mean, *paired_se(diff, clusters)))
        covered_naive += (lambda ci: ci[0] <= 0 <= ci[1])(t_interval(mean, *paired_se(diff)))
    assert covered_cluster / trials >= 0.92
    assert covered_naive / trials < 0.6


def test_minimum_detectable_effect_matches_statsmodels_power():
    # A z test with SE 0.02 detects an effect of MDE with 80% power: check with statsmodels' NormalIndPower
    # on the standardised effect (MDE / SE with nobs=1 reproduces a one-sample z test).
    se = 0.02
    mde = minimum_detectable_effect(se)
    power = sm_power.NormalIndPower().power(effect_size=mde / se, nobs1=1, alpha=0.05, ratio=0,
                                            alternative="two-sided")
    assert power == pytest.approx(0.8, abs=2e-3)


def test_paired_bootstrap_matches_scipy_and_is_exact_for_discrete_diffs():
    rng = np.random.default_rng(3)
    diff = rng.normal(0.1, 1, 200)
    dist = paired_bootstrap(diff, n_resamples=4000, seed=1)
    ref = stats.bootstrap((diff,), np.mean, n_resamples=4000, method="percentile", random_state=1)
    ours = np.percentile(dist, [2.5, 97.5])
    assert ours == pytest.approx([ref.confidence_interval.low, ref.confidence_interval.high], abs=0.02)
    # Discrete differences use the multinomial shortcut: same mean and spread as index resampling.
    binary = (rng.random(500) < 0.3).astype(float) - (rng.random(500) < 0.2).astype(float)
    dist = paired_bootstrap(binary, n_resamples=20_000, seed=2)
    assert dist.mean() == pytest.approx(binary.mean(), abs=2e-3)
    assert dist.std() == pytest.approx(binary.std() / math.sqrt(500), rel=0.03)
    assert bootstrap_pvalue(binary, dist) < 0.05


def test_bootstrap_pvalue_is_uniformish_under_the_null():
    rng = np.random.default_rng(9)
    p = [bootstrap_pvalue(d, paired_bootstrap(d, 500, seed=i)) for i, d in
         enumerate(rng.normal(0, 1, (300, 60)))]
    assert 0.02 <= np.mean(np.array(p) < 0.05) <= 0.10
