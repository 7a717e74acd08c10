"""Chinchilla approach 3 on Epoch AI's replication data, and the law on synthetic runs with known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fourlens.errors import BadInputError
from fourlens.training.scaling import checkpoint_finding, fit_chinchilla, fit_compute_law, load_scaling_runs

EPOCH_CSV = Path(__file__).resolve().parent / "fixtures" / "chinchilla" / "chinchilla_approach3.csv"
# Besiroglu et al. 2024, table 1 (estimate, bootstrap standard error)
PUBLISHED = {"E": (1.82, 0.026), "A": (482.0, 124.5), "B": (2085.0, 1293.0), "alpha": (0.348, 0.015),
             "beta": (0.366, 0.021)}


@pytest.fixture(scope="module")
def epoch_fit():
    if not EPOCH_CSV.is_file():
        pytest.fail(f"reference data missing: {EPOCH_CSV} (Epoch AI's Chinchilla replication CSV, see "
                    "tests/training/fixtures/chinchilla/README.md); the scaling-law test cannot run without it")
    runs = load_scaling_runs(EPOCH_CSV)
    # The replication drops the 5 runs with the highest loss (outliers of the figure extraction).
    runs = runs.sort_values("loss").iloc[:-5]
    return fit_chinchilla(runs["n_params"], runs["n_tokens"], runs["loss"], n_bootstrap=60, seed=0)


def test_reproduces_the_epoch_replication_within_its_standard_errors(epoch_fit):
    assert epoch_fit.n_runs == 240
    for name, (value, se) in PUBLISHED.items():
        assert abs(getattr(epoch_fit, name) - value) < se, (name, getattr(epoch_fit, name))
        # our bootstrap SEs are of the published size (60 resamples: within a factor of 2)
        assert se / 2 < getattr(epoch_fit, f"{name}_se") < 2 * se, (name, getattr(epoch_fit, f"{name}_se"))


def test_compute_optimal_allocation_and_prediction_interval(epoch_fit):
    n_opt, d_opt = epoch_fit.compute_optimal(5.76e23)   # Chinchilla's budget
    assert 6 * n_opt * d_opt == pytest.approx(5.76e23)
    assert 3e10 < n_opt < 1.5e11   # Chinchilla itself: 70B parameters, 1.4T tokens
    predicted, low, high = epoch_fit.prediction_interval(70e9, 1.4e12)
    assert low < predicted < high and predicted == pytest.approx(epoch_fit.predict(70e9, 1.4e12))
    assert checkpoint_finding(epoch_fit, 70e9, 1.4e12, predicted) is None
    finding = checkpoint_finding(epoch_fit, 70e9, 1.4e12, high * 1.05)
    assert finding is not None and "above" in finding.title and finding.severity > 0.5


def test_recovers_known_parameters_from_synthetic_runs():
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 80))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 80))
    loss = (1.7 + 400 / n ** 0.34 + 1800 / d ** 0.28) * np.exp(rng.normal(0, 0.002, 80))
    fit = fit_chinchilla(n, d, loss, n_bootstrap=0)
    assert abs(fit.E - 1.7) < 0.085 and abs(fit.alpha - 0.34) < 0.03
    assert fit.beta == pytest.approx(0.28, abs=0.03)
    law = fit_compute_law(6 * n * d, loss)
    assert 0 < law.gamma < 0.5
    assert float(np.min(loss)) > law.E
    frontier_loss = np.array(law.frontier_loss)
    assert np.all(np.diff(frontier_loss) < 0)


def test_bad_tables_are_refused(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("params,loss\n1e6,3.0\n")
    with pytest.raises(BadInputError, match="tokens"):
        load_scaling_runs(path)
    path.write_text("params,tokens,loss\n1e6,1e9,-3.0\n")
    with pytest.raises(BadInputError, match="row 2"):
        load_scaling_runs(path)
    with pytest.raises(ValueError, match="at least 6 runs"):
        fit_chinchilla([1e6] * 3, [1e9] * 3, [3.0] * 3)
