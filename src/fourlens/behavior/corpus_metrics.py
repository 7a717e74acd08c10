"""Corpus-level metrics recomputed from per-item predictions, for a paired bootstrap over items.

Some eval metrics are not means of item scores but functions of the whole set (lm-evaluation-harness
calls them aggregations): F1 and Matthews' correlation over (gold, prediction) pairs, perplexities
over (log-likelihood, length) pairs, BLEU/chrF/TER over (reference, hypothesis) pairs, micro/macro F1
over (gold labels, predicted labels) sets. The samples file logs the per-item inputs of the
aggregation; this module recomputes the aggregation from them, with the harness' definitions
(lm_eval/api/metrics.py, 0.4.x), as a function of a resampling index so a bootstrap costs one
vectorised pass per resample. A recomputation is used only when it reproduces the value the harness
reported (checked by the reader), so a custom aggregation that merely shares a name is never
silently replaced by ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Statistic = Callable[[np.ndarray], float]   # index array (resample of item positions) -> metric value


def _pairs(values: Sequence[object]) -> tuple[list, list]:
    if not all(isinstance(v, (list, tuple)) and len(v) == 2 for v in values):
        raise ValueError("expected one [gold, prediction] pair per item")
    return [v[0] for v in values], [v[1] for v in values]


def _f1_binary(values: Sequence[object]) -> Statistic:
    """sklearn's f1_score(golds, preds) with its defaults (binary, positive label 1), as lm-eval's `f1`."""
    gold, pred = (np.asarray(side, dtype=float) for side in _pairs(values))
    if not set(np.unique(np.concatenate([gold, pred]))) <= {0.0, 1.0}:
        raise ValueError("binary F1 needs 0/1 labels")
    tp, fp, fn = (gold == 1) & (pred == 1), (gold == 0) & (pred == 1), (gold == 1) & (pred == 0)

    def statistic(index: np.ndarray) -> float:
        t, f_p, f_n = tp[index].sum(), fp[index].sum(), fn[index].sum()
        return float(2 * t / (2 * t + f_p + f_n)) if (2 * t + f_p + f_n) else 0.0
    return statistic


def _mcc(values: Sequence[object]) -> Statistic:
    """Matthews' correlation for any number of classes (Gorodkin's R_K, sklearn's matthews_corrcoef)."""
    gold_raw, pred_raw = _pairs(values)
    labels = {label: k for k, label in enumerate(sorted({str(v) for v in gold_raw + pred_raw}))}
    gold = np.array([labels[str(v)] for v in gold_raw])
    pred = np.array([labels[str(v)] for v in pred_raw])
    k = len(labels)

    def statistic(index: np.ndarray) -> float:
        confusion = np.bincount(gold[index] * k + pred[index], minlength=k * k).reshape(k, k).astype(float)
        t, p = confusion.sum(axis=1), confusion.sum(axis=0)
        n, correct = confusion.sum(), np.trace(confusion)
        denominator = math.sqrt((n * n - p @ p) * (n * n - t @ t))
        return float((correct * n - t @ p) / denominator) if denominator else 0.0
    return statistic


def _weighted(values: Sequence[object], transform: Callable[[float], float]) -> Statistic:
    loglik, weight = (np.asarray(side, dtype=float) for side in _pairs(values))
    return lambda index: transform(loglik[index].sum() / weight[index].sum())


def _perplexity(values: Sequence[object]) -> Statistic:
    loglik = np.asarray(values, dtype=float)
    return lambda index: math.exp(-loglik[index].mean())


def _brier(values: Sequence[object]) -> Statistic:
    gold, probabilities = _pairs(values)
    probs = np.asarray(probabilities, dtype=float)   # (n, classes)
    onehot = np.eye(probs.shape[1])[np.asarray(gold, dtype=int)]
    per_item = ((probs - onehot) ** 2).sum(axis=1)
    return lambda index: float(per_item[index].mean())


def _label_sets(values: Sequence[object]) -> tuple[list[set], list[set]]:
    gold, pred = _pairs(values)
    if not all(isinstance(g, (list, tuple)) and isinstance(p, (list, tuple)) for g, p in zip(gold, pred, strict=True)):
        raise ValueError("set F1 needs a list of gold labels and a list of predicted labels per item")
    return [set(map(str, g)) for g in gold], [set(map(str, p)) for p in pred]


def _micro_f1_sets(values: Sequence[object]) -> Statistic:
    gold, pred = _label_sets(values)
    tp = np.array([len(g & p) for g, p in zip(gold, pred, strict=True)], dtype=float)
    fp = np.array([len(p - g) for g, p in zip(gold, pred, strict=True)], dtype=float)
    fn = np.array([len(g - p) for g, p in zip(gold, pred, strict=True)], dtype=float)

    def statistic(index: np.ndarray) -> float:
        t, f_p, f_n = tp[index].sum(), fp[index].sum(), fn[index].sum()
        precision = t / (t + f_p) if t + f_p else 0.0
        recall = t / (t + f_n) if t + f_n else 0.0
        return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0
    return statistic


def _macro_f1_sets(values: Sequence[object]) -> Statistic:
    """Mean over the labels seen in the (resampled) set of each label's F1."""
    gold, pred = _label_sets(values)
    labels = sorted(set().union(*gold, *pred))
    in_gold = np.array([[label in g for label in labels] for g in gold], dtype=float).reshape(len(gold), len(labels))
    in_pred = np.array([[label in p for label in labels] for p in pred], dtype=float).reshape(len(pred), len(labels))
    tp, fp, fn = in_gold * in_pred, (1 - in_gold) * in_pred, in_gold * (1 - in_pred)

    def statistic(index: np.ndarray) -> float:
        t, f_p, f_n = tp[index].sum(axis=0), fp[index].sum(axis=0), fn[index].sum(axis=0)
        seen = (t + f_p + f_n) > 0
        if not seen.any():
            return 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(t + f_p > 0, t / (t + f_p), 0.0)
            recall = np.where(t + f_n > 0, t / (t + f_n), 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        return float(f1[seen].mean())
    return statistic


def _sacrebleu(kind: str) -> Callable[[Sequence[object]], Statistic]:
    def prepare(values: Sequence[object]) -> Statistic:
        try:
            import sacrebleu
        except ImportError:
            raise ValueError("sacrebleu is not installed") from None
        refs, hyps = _pairs(values)
        refs = [r if isinstance(r, (list, tuple)) else [r] for r in refs]
        function = {"bleu": sacrebleu.corpus_bleu, "chrf": sacrebleu.corpus_chrf, "ter": sacrebleu.corpus_ter}[kind]

        def statistic(index: np.ndarray) -> float:
            chosen_refs = [refs[i] for i in index]
            streams = [[r[j] if j < len(r) else "" for r in chosen_refs] for j in range(max(map(len, chosen_refs)))]
            return float(function([str(hyps[i]) for i in index], streams).score)
        return statistic
    return prepare


# lm-eval aggregation name -> how to build the statistic from the logged per-item values
AGGREGATIONS: dict[str, Callable[[Sequence[object]], Statistic]] = {
    "f1": _f1_binary, "matthews_corrcoef": _mcc, "perplexity": _perplexity,
    "weighted_perplexity": lambda v: _weighted(v, lambda m: math.exp(-m)),
    "bits_per_byte": lambda v: _weighted(v, lambda m: -m / math.log(2)),
    "brier_score": _brier, "bleu": _sacrebleu("bleu"), "chrf": _sacrebleu("chrf"), "ter": _sacrebleu("ter"),
    "micro_f1_sets": _micro_f1_sets, "macro_f1_sets": _macro_f1_sets,
}
# metric name -> aggregation, for results files whose config names a custom aggregation function
BY_METRIC_NAME = {"f1": "f1", "mcc": "matthews_corrcoef", "perplexity": "perplexity",
                  "word_perplexity": "weighted_perplexity", "byte_perplexity": "weighted_perplexity",
                  "bits_per_byte": "bits_per_byte", "brier_score": "brier_score", "bleu": "bleu", "chrf": "chrf",
                  "ter": "ter", "micro_f1": "micro_f1_sets", "macro_f1": "macro_f1_sets"}
# lm-eval's built-in metrics whose aggregation is not the mean of item scores
CORPUS_METRIC_NAMES = frozenset(BY_METRIC_NAME) - {"micro_f1", "macro_f1"}


def statistic_for(metric: str, aggregation: str | None, values: Sequence[object]) -> tuple[str, Statistic] | None:
    """(aggregation name, statistic) that recomputes `metric` from its per-item values, or None."""
    candidates = [aggregation] if aggregation in AGGREGATIONS else []
    candidates += [BY_METRIC_NAME[metric]] if metric in BY_METRIC_NAME else []
    for name in candidates:
        try:
            return name, AGGREGATIONS[name](values)
        except (ValueError, TypeError, IndexError, KeyError):
            continue
    return None


def paired_bootstrap(stat_a: Statistic, stat_b: Statistic, n_items: int, n_resamples: int = 2000,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Values of both statistics on the same resamples of item positions (items paired by position)."""
    rng = np.random.default_rng(seed)
    a, b = np.empty(n_resamples), np.empty(n_resamples)
    for r in range(n_resamples):
        index = rng.integers(0, n_items, n_items)
        a[r], b[r] = stat_a(index), stat_b(index)
    return a, b
