"""The behavior lens in triage: the eval harness first, then paired eval regressions (capability and
safety), then the agent's requests (output length, tool calls and loops, tool latency, latency).

One bad file never sinks the lens: eval files are read format by format (lm-eval, inspect, safety,
generic), a format that cannot be read on either side is left out with a note in the lens's status,
and the rest (other formats, agent traces) is still analysed. A (task, metric) whose items cannot be
paired (its prompts changed) is compared unpaired (`fourlens.behavior.pairing`), and the harness
settings that changed are findings of their own (`fourlens.behavior.harness`).

Options (`[options.behavior]` in the candidate's fourlens.toml, else the baseline's): `alpha` (0.05),
`common_items` (false: compare unpaired what cannot be paired; true: keep only the items both runs
scored alike), `test` ("permutation" or "bootstrap" for non-0/1 metrics) and `higher_is_better` (true,
false, or a table keyed by "task/metric", "task" or "metric"; see `fourlens.behavior.direction`).
How regressions become findings: `fourlens.behavior.findings`, `.agents`, `.latency`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fourlens._io import expand_paths
from fourlens.behavior.agents import agent_findings
from fourlens.behavior.compare import compare
from fourlens.behavior.corpus import compare_corpus, corpus_findings, untested_note
from fourlens.behavior.evals import EvalResults, check_unique, load_evals
from fourlens.behavior.figures import forest_figure
from fourlens.behavior.formats import sniff_format
from fourlens.behavior.harness import harness_findings
from fourlens.behavior.latency import compare_latency
from fourlens.behavior.traces import load_traces
from fourlens.errors import BadInputError
from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis

EVAL_SUFFIXES = (".jsonl", ".json", ".csv", ".eval")


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    options = dict(candidate.lens_options("behavior") or baseline.lens_options("behavior"))
    alpha = float(options.get("alpha", 0.05))
    findings, figures, notes = [], [], []
    failures = 0
    if baseline.has("evals") and candidate.has("evals"):
        findings.extend(harness_findings(baseline.paths("evals"), candidate.paths("evals")))
        evals_a, notes_a = read_evals(baseline.paths("evals"))
        evals_b, notes_b = read_evals(candidate.paths("evals"))
        notes += [f"baseline {n}" for n in notes_a] + [f"candidate {n}" for n in notes_b]
        if evals_a is not None and evals_b is not None:
            if len(evals_a.items) and len(evals_b.items):
                try:
                    result = compare(evals_a, evals_b, alpha=alpha,
                                     common_items=bool(options.get("common_items", False)),
                                     test=str(options.get("test", "permutation")), unpaired=True, directions=options)
                except BadInputError as exc:
                    failures += 1
                    notes.append(f"evals not compared: {exc}")
                else:
                    findings.extend(result.findings())
                    figures.append(forest_figure(result, baseline.name, candidate.name))
                    unpaired = [n for n in result.notes if "compared unpaired" in n]
                    if unpaired:
                        notes.append(f"{len(unpaired)} eval unit(s) compared unpaired (their prompts changed)")
            # metrics computed over the whole set (F1, BLEU, ...): paired bootstrap or the harness' stderr
            corpus = compare_corpus(evals_a, evals_b)
            findings.extend(corpus_findings(corpus, alpha=alpha))
            if (note := untested_note(corpus)) is not None:
                notes.append(note)
        else:
            failures += 1
    if baseline.has("agent_traces") and candidate.has("agent_traces"):
        try:
            traces_a = load_traces(baseline.paths("agent_traces"))
            traces_b = load_traces(candidate.paths("agent_traces"))
            latency = compare_latency(traces_a, traces_b, alpha=alpha)
        except BadInputError as exc:
            failures += 1
            notes.append(f"agent traces not compared: {exc}")
        else:
            notes.extend(f"{side} traces: {note}" for side, traces in (("baseline", traces_a), ("candidate", traces_b))
                         for note in traces.notes)
            findings.extend(agent_findings(traces_a, traces_b, alpha))
            findings.extend(latency.findings())
            figures.extend(latency.figures())
    if failures and not findings and not figures:
        raise BadInputError("; ".join(notes) or "no behavior evidence could be read")
    return Diagnosis(findings=findings, figures=figures, notes=notes)


def read_evals(paths: tuple[Path, ...]) -> tuple[EvalResults | None, list[str]]:
    """The eval files of one bundle, read format by format; a format that fails is left out with a note."""
    files = expand_paths(list(paths), EVAL_SUFFIXES, "eval results")
    groups: dict[str, list[Path]] = {}
    for path in files:
        try:
            groups.setdefault(sniff_format(path), []).append(path)
        except BadInputError:
            continue   # not an eval file (a README, a config): the other files still count
    parts, notes = [], []
    for fmt, group in sorted(groups.items()):
        try:
            parts.append(load_evals(group, fmt=fmt))
        except BadInputError as exc:
            notes.append(f"{fmt} evals not read: {exc}")
    if not parts:
        return None, notes or [f"no readable eval results among {len(files)} file(s)"]
    if len(parts) == 1:
        return parts[0], notes
    items = pd.concat([part.items for part in parts], ignore_index=True)
    hashes = {task: h for part in parts for task, h in part.task_hashes.items()}
    sources = tuple(p for part in parts for p in part.source)
    try:
        items = check_unique(items, list(sources))
    except BadInputError as exc:
        return parts[0], [*notes, f"evals of other formats left out: {exc}"]
    corpus = pd.concat([part.corpus for part in parts], ignore_index=True)
    corpus_samples = pd.concat([part.corpus_samples for part in parts], ignore_index=True)
    return EvalResults(items=items, source=sources, task_hashes=hashes, fmt="+".join(p.fmt for p in parts),
                       corpus=corpus, corpus_samples=corpus_samples), notes
