"""`fit_chinchilla`: L(N, D) = E + A / N^alpha + B / D^beta by Chinchilla's approach 3, with bootstrap.

Hoffmann et al. 2022 (arXiv:2203.15556), approach 3; the replication by Besiroglu, Erdil, Barnett and
You 2024 (arXiv:2404.10102) refits it on the data extracted from the paper's figure 4 and reports
E = 1.82, A = 482, B = 2085, alpha = 0.348, beta = 0.366 with bootstrap standard errors. The bootstrap
here resamples runs with replacement and refits each resample by L-BFGS warm-started at the full-data
optimum (the resamples' optima lie close to it; the grid search is for the full fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fourlens.training.scaling.huber import HUBER_DELTA, fit_lse, predict_log

PARAMS = ("E", "A", "B", "alpha", "beta")


@dataclass(frozen=True)
class ChinchillaFit:
    """Fitted L(N, D) with bootstrap standard errors. `bootstrap` rows are (E, A, B, alpha, beta)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    E_se: float
    A_se: float
    B_se: float
    alpha_se: float
    beta_se: float
    n_runs: int
    objective: float
    log_residuals: np.ndarray = field(repr=False, compare=False)
    bootstrap: np.ndarray = field(repr=False, compare=False)

    @property
    def theta(self) -> np.ndarray:
        return np.array([math.log(self.A), math.log(self.B), math.log(self.E), self.alpha, self.beta])

    def predict(self, n_params: float | np.ndarray, n_tokens: float | np.ndarray) -> np.ndarray | float:
        """Expected loss for N parameters trained on D tokens."""
        n, d = np.broadcast_arrays(np.asarray(n_params, float), np.asarray(n_tokens, float))
        loss = self.E + self.A / n ** self.alpha + self.B / d ** self.beta
        return float(loss) if loss.ndim == 0 else loss

    def prediction_interval(self, n_params: float, n_tokens: float, level: float = 0.95,
                            seed: int = 0) -> tuple[float, float, float]:
        """(prediction, low, high) for a new run: parameter uncertainty (the bootstrap fits) combined
        with run-to-run scatter (a resampled log residual of the fit), both multiplicative in loss."""
        rng = np.random.default_rng(seed)
        if len(self.bootstrap):
            boot = self.bootstrap
            fitted = boot[:, 0] + boot[:, 1] / n_params ** boot[:, 3] + boot[:, 2] / n_tokens ** boot[:, 4]
        else:
            fitted = np.array([self.predict(n_params, n_tokens)])
        draws = np.repeat(fitted, max(1, 2000 // len(fitted)))
        draws = draws * np.exp(rng.choice(self.log_residuals, size=len(draws)))
        tail = (1 - level) / 2
        low, high = np.quantile(draws, [tail, 1 - tail])
        return float(self.predict(n_params, n_tokens)), float(low), float(high)

    def compute_optimal(self, flops: float | np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
        """(N_opt, D_opt) minimizing L under C = 6 N D (Hoffmann et al. eq. 4):
        N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = (C/6)^(alpha/(alpha+beta)) / G,
        G = (alpha A / (beta B))^(1/(alpha+beta))."""
        total = self.alpha + self.beta
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1 / total)
        c6 = np.asarray(flops, float) / 6
        n_opt, d_opt = g * c6 ** (self.beta / total), c6 ** (self.alpha / total) / g
        return (float(n_opt), float(d_opt)) if n_opt.ndim == 0 else (n_opt, d_opt)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in PARAMS}
        out.update({f"{name}_se": getattr(self, f"{name}_se") for name in PARAMS})
        out.update(n_runs=self.n_runs, objective=self.objective, n_bootstrap=len(self.bootstrap))
        return out

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{p}</td><td>{getattr(self, p):.4g}</td><td>{getattr(self, p + '_se'):.3g}</td></tr>"
                       for p in PARAMS)
        return f"<table><tr><th>parameter</th><th>estimate</th><th>bootstrap SE</th></tr>{rows}</table>"


def _validate(n_params, n_tokens, loss) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = [np.asarray(a, dtype=float).ravel() for a in (n_params, n_tokens, loss)]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"n_params, n_tokens and loss must have one entry per run; got lengths "
                         f"{[len(a) for a in arrays]}")
    for name, values in zip(("n_params", "n_tokens", "loss"), arrays, strict=True):
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"{name} must be positive and finite for every run")
    if len(arrays[0]) < 6:
        raise ValueError(f"a 5-parameter scaling law needs at least 6 runs; got {len(arrays[0])}")
    return arrays[0], arrays[1], arrays[2]


def fit_chinchilla(n_params, n_tokens, loss, n_bootstrap: int = 200, seed: int = 0,
                   delta: float = HUBER_DELTA, n_starts: int | None = 12) -> ChinchillaFit:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta (approach 3) and bootstrap the parameters' standard errors.

    Inputs: one entry per training run (parameters N, tokens D, final loss). n_starts=None runs
    L-BFGS from every point of the published 4,500-point grid (slow); the default starts from the
    12 grid points with the lowest objective."""
    n, d, loss_values = _validate(n_params, n_tokens, loss)
    logs = np.column_stack([np.log(n), np.log(d)])   # (n_runs, 2)
    log_loss = np.log(loss_values)
    theta, value = fit_lse(logs, log_loss, delta=delta, n_starts=n_starts)
    residuals = log_loss - predict_log(theta, logs)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_bootstrap):
        # Resampling with replacement = integer weights on the runs (same objective, fewer copies).
        weights = np.bincount(rng.integers(0, len(n), len(n)), minlength=len(n)).astype(float)
        boot, _ = fit_lse(logs, log_loss, delta=delta, starts=theta[None], weights=weights)
        rows.append([math.exp(boot[2]), math.exp(boot[0]), math.exp(boot[1]), boot[3], boot[4]])
    bootstrap = np.array(rows).reshape(-1, 5)
    se = bootstrap.std(axis=0, ddof=1) if len(bootstrap) > 1 else np.full(5, np.nan)
    return ChinchillaFit(
        E=math.exp(theta[2]), A=math.exp(theta[0]), B=math.exp(theta[1]), alpha=float(theta[3]),
        beta=float(theta[4]), E_se=float(se[0]), A_se=float(se[1]), B_se=float(se[2]), alpha_se=float(se[3]),
        beta_se=float(se[4]), n_runs=len(n), objective=value, log_residuals=residuals, bootstrap=bootstrap,
    )
