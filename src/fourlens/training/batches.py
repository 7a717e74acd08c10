"""The data batches around a spike, when the data order is known: what did the model read when the
loss (or the grad norm) jumped? Repeated n-grams in a batch (a document duplicated a thousand times, a
boilerplate page, a run of one token) are the classic culprit (OPT-175B and BLOOM logbooks; PaLM
skipped the batches before its spikes).

The order is a set of JSONL / CSV / Parquet files, one record per document (or per sequence) with
the `step` it was trained at and its `text` (or `input_ids` / `tokens`, token ids), named by
`[options.training] data_order = ["order/*.jsonl"]` relative to the candidate bundle.

For each spike, NaN or growth finding the batches of its first step and the two before it are read;
their repetition = the share of word 8-grams (id 8-grams for token ids) that occur more than once in
the batch. The null: a batch like the others (its repetition against the distribution over all
batches of the run: empirical percentile and robust z, 1.4826 x MAD floored at 1 point). The batches'
numbers and their most repeated n-grams go into the finding's evidence; the title says so when a
batch is more repetitive than 99% of the run's or 5 robust sigma above their median.
"""

from __future__ import annotations

import dataclasses
import glob
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens._io import read_jsonl
from fourlens.errors import BadInputError
from fourlens.report import Finding

N = 8
CONTEXT_STEPS = 2
EXAMINED = ("training.loss_spike", "training.grad_norm_spike", "training.nonfinite", "training.grad_norm_growth")
WORD = re.compile(r"\w+")


def read_order(paths: list[str]) -> pd.DataFrame:
    """A table with `step` and `units` (the list of words or token ids of each document)."""
    rows = []
    for path in paths:
        suffix = Path(path).suffix
        if suffix == ".parquet":
            records = pd.read_parquet(path).to_dict(orient="records")
        elif suffix == ".csv":
            records = pd.read_csv(path).to_dict(orient="records")
        else:
            records = read_jsonl(path)
        for number, record in enumerate(records, start=1):
            if "step" not in record:
                raise BadInputError(f"{path}:{number}: a data-order record needs the `step` it was trained at")
            ids = record.get("input_ids", record.get("tokens"))
            if ids is not None and not isinstance(ids, str):
                units = [int(i) for i in ids]
            elif isinstance(record.get("text"), str):
                units = WORD.findall(record["text"].lower())
            else:
                raise BadInputError(f"{path}:{number}: a data-order record needs `text` or `input_ids`")
            rows.append({"step": int(record["step"]), "units": units})
    if not rows:
        raise BadInputError(f"{', '.join(paths[:3])}: no data-order records")
    return pd.DataFrame(rows)


def repetition(documents: list[list]) -> tuple[float, list[dict]]:
    """(share of the batch's n-grams that occur more than once, the most repeated n-grams)."""
    counts: Counter = Counter()
    for units in documents:
        counts.update(tuple(units[i:i + N]) for i in range(max(0, len(units) - N + 1)))
    total = sum(counts.values())
    if not total:
        return 0.0, []
    repeated = sum(c for c in counts.values() if c > 1)
    top = [{"ngram": " ".join(map(str, gram)), "count": int(c)} for gram, c in counts.most_common(3) if c > 1]
    return repeated / total, top


def order_files(bundle, patterns) -> list[Path]:
    """The data-order files `patterns` (globs relative to the bundle) name."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    paths = sorted({m for p in patterns for m in glob.glob(str(Path(bundle.root) / p), recursive=True)})
    if not paths:
        raise BadInputError(f"[options.training] data_order = {patterns} matches nothing under {bundle.root}")
    return [Path(p) for p in paths]


def attach_batches(findings: list[Finding], bundle, patterns) -> list[Finding]:
    """The findings with the batches around each spike in their evidence (see the module docstring)."""
    order = read_order([str(p) for p in order_files(bundle, patterns)])
    by_step = order.groupby("step")["units"].apply(list)
    rates = pd.Series({step: repetition(docs)[0] for step, docs in by_step.items()})
    median = float(rates.median())
    sigma = max(1.4826 * float((rates - median).abs().median()), 0.01)
    out = []
    for finding in findings:
        if finding.kind not in EXAMINED or finding.step is None or finding.status != "ranked":
            out.append(finding)
            continue
        batches = []
        for step in range(finding.step - CONTEXT_STEPS, finding.step + 1):
            if step not in by_step.index:
                continue
            rate, top = repetition(by_step[step])
            percentile = float((rates < rate).mean())
            robust_z = (rate - median) / sigma
            batches.append({"step": step, "documents": len(by_step[step]), "repetition": rate,
                            "percentile_in_run": percentile, "robust_z": robust_z, "most_repeated": top})
        if not batches:
            out.append(finding)
            continue
        worst = max(batches, key=lambda b: b["repetition"])
        evidence = {**finding.evidence, "batches": batches, "typical_repetition": float(np.median(rates)),
                    "batches_null": "a batch like the run's others (empirical percentile of its repetition)"}
        title = finding.title
        if (worst["percentile_in_run"] >= 0.99 or worst["robust_z"] >= 5) and worst["most_repeated"]:
            gram = worst["most_repeated"][0]
            title += (f"; the batch at step {worst['step']:,} repeats '{gram['ngram']}' {gram['count']}x "
                      f"({100 * worst['repetition']:.0f}% repeated {N}-grams vs {100 * np.median(rates):.0f}% typical)")
        out.append(dataclasses.replace(finding, title=title, evidence=evidence))
    return out
