"""Judge one checkpoint by a scaling law: where its loss sits against the law's prediction interval,
and the finding when it falls outside."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fourlens.errors import BadInputError
from fourlens.report import Finding, saturating
from fourlens.training.run import Run
from fourlens.training.scaling.chinchilla import ChinchillaFit


@dataclass(frozen=True)
class CheckpointJudgement:
    """A checkpoint (`n_params`, `n_tokens`, `loss`) against the law: the `predicted` loss, the
    prediction interval [`low`, `high`] at `level`, and the `finding` when the loss falls outside it."""

    n_params: float
    n_tokens: float
    loss: float
    predicted: float
    low: float
    high: float
    level: float
    finding: Finding | None

    def to_dict(self) -> dict[str, Any]:
        return {"n_params": self.n_params, "n_tokens": self.n_tokens, "loss": self.loss,
                "predicted": self.predicted, "low": self.low, "high": self.high, "level": self.level,
                "finding": self.finding.to_dict() if self.finding is not None else None}


def judge_checkpoint(fit: ChinchillaFit, n_params: float, n_tokens: float, loss: float,
                     level: float = 0.95) -> CheckpointJudgement:
    """Place a checkpoint on the law: its predicted loss, the prediction interval, and a finding when
    the loss falls outside the interval.

    Severity: min(1, |log(loss / predicted)| / 5%) (a loss 5% off the law is full scale).
    Confidence: the interval's level; only checkpoints outside it produce a finding."""
    predicted, low, high = fit.prediction_interval(n_params, n_tokens, level)
    finding = None
    if not low <= loss <= high:
        finding = _outside_finding(fit, n_params, n_tokens, loss, level, predicted, low, high)
    return CheckpointJudgement(n_params=n_params, n_tokens=n_tokens, loss=loss, predicted=predicted, low=low,
                               high=high, level=level, finding=finding)


def checkpoint_loss(run: Run) -> float:
    """The loss that places a run's checkpoint on the law: the last validation loss when one is logged,
    else the mean of the last 5% of training-loss points (one noisy step is not the checkpoint's loss)."""
    for signal in ("loss/val", "val_loss", "loss"):
        try:
            series = run.signal(signal).dropna()
        except KeyError:
            continue
        if len(series):
            tail = series.iloc[-max(1, len(series) // 20):] if signal == "loss" else series.iloc[-1:]
            return float(tail.mean())
    raise BadInputError(f"{', '.join(map(str, run.source))}: no loss logged, so the run cannot be placed on the "
                        "scaling law; log the loss or leave out --scaling-runs")


def checkpoint_finding(fit: ChinchillaFit, n_params: float, n_tokens: float, loss: float,
                       level: float = 0.95) -> Finding | None:
    """The finding of `judge_checkpoint`: None when the loss lies inside the prediction interval."""
    return judge_checkpoint(fit, n_params, n_tokens, loss, level).finding


def _outside_finding(fit: ChinchillaFit, n_params: float, n_tokens: float, loss: float, level: float,
                     predicted: float, low: float, high: float) -> Finding:
    direction = "above" if loss > high else "below"
    relative = loss / predicted - 1
    return Finding(
        lens="training", severity=saturating(abs(np.log(loss / predicted)), 0.05), confidence=level,
        title=(f"checkpoint loss {loss:.4g} is {direction} the scaling law's {int(level * 100)}% interval "
               f"({low:.4g}-{high:.4g}; predicted {predicted:.4g} for N={n_params:.3g}, D={n_tokens:.3g})"),
        evidence={"loss": loss, "predicted": predicted, "low": low, "high": high, "relative": relative,
                  "n_params": n_params, "n_tokens": n_tokens, "fit": fit.to_dict()},
        next_check=("a loss above the law points at the data, the LR schedule or a bug; compare its config with "
                    "the runs the law was fitted on" if direction == "above" else
                    "a loss below the law is suspicious: check eval/train overlap (contamination) and that the "
                    "eval set matches the one the law was fitted on"),
        kind="training.final_loss", subject="loss",
    )
