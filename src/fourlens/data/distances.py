"""Distances between two distributions and token-level contrasts, as the papers define them.

- Jensen-Shannon distance: sqrt of the JS divergence with log base 2 (in [0, 1]; Lin 1991).
- Population stability index: sum (q - p) ln(q / p), with zero bins floored at `floor` (a bin that is
  empty on one side would otherwise be infinite).
- Cramér's V (Cramér 1946): sqrt(chi^2 / (n (min(r, c) - 1))) of the contingency table, an effect size
  that does not grow with the corpus the way raw chi^2 does.
- Smoothed log-ratio: log2 of the add-one smoothed relative frequencies.
- Weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin'
  Words", eq. 16-22): prior alpha_w = prior_scale x pooled counts; delta_w the difference of the
  prior-smoothed log-odds, z_w = delta_w / sqrt(1/(y_a+alpha_w) + 1/(y_b+alpha_w)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_FLOOR = 1e-4


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def psi(p: np.ndarray, q: np.ndarray, floor: float = PSI_FLOOR) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    p = np.maximum(p / p.sum(), floor)
    q = np.maximum(q / q.sum(), floor)
    return float(np.sum((q - p) * np.log(q / p)))


def cramers_v(table: np.ndarray) -> tuple[float, float, float]:
    """(V, chi^2, p-value) of a contingency table; columns that are zero in every row are dropped."""
    table = np.asarray(table, float)
    table = table[:, table.sum(axis=0) > 0]
    table = table[table.sum(axis=1) > 0]
    if min(table.shape) < 2:
        return 0.0, 0.0, 1.0
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    n = table.sum()
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1)))), float(chi2), float(p_value)


def two_proportion_p(x_a: float, n_a: float, x_b: float, n_b: float) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if n_a == 0 or n_b == 0:
        return 1.0
    pooled = (x_a + x_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0 if x_a / n_a == x_b / n_b else 0.0
    z = (x_b / n_b - x_a / n_a) / se
    return float(2 * stats.norm.sf(abs(z)))


def token_contrast(counts_a: dict[str, int], counts_b: dict[str, int], prior_scale: float = 1.0) -> pd.DataFrame:
    """Per token: counts, smoothed log2 ratio (b over a), Monroe et al. weighted log-odds delta and z.

    Positive z: more frequent in b. Rows sorted by z."""
    vocab = sorted(set(counts_a) | set(counts_b))
    y_a = np.array([counts_a.get(t, 0) for t in vocab], dtype=float)
    y_b = np.array([counts_b.get(t, 0) for t in vocab], dtype=float)
    n_a, n_b, size = y_a.sum(), y_b.sum(), len(vocab)
    log_ratio = np.log2((y_b + 1) / (n_b + size)) - np.log2((y_a + 1) / (n_a + size))
    alpha = prior_scale * (y_a + y_b)          # informative prior: the pooled counts
    alpha0 = alpha.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (np.log((y_b + alpha) / (n_b + alpha0 - y_b - alpha))
                 - np.log((y_a + alpha) / (n_a + alpha0 - y_a - alpha)))
        z = delta / np.sqrt(1 / (y_a + alpha) + 1 / (y_b + alpha))
    table = pd.DataFrame({"token": vocab, "count_a": y_a.astype(np.int64), "count_b": y_b.astype(np.int64),
                          "freq_a": y_a / n_a if n_a else 0.0, "freq_b": y_b / n_b if n_b else 0.0,
                          "log2_ratio": log_ratio, "log_odds": delta, "z": z})
    return table.sort_values(["z", "token"], ascending=[False, True], ignore_index=True)
