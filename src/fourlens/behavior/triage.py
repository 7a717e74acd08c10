"""The behavior lens in triage: paired eval regressions (capability and safety) and agent latency.

Options (`[options.behavior]` in the candidate's fourlens.toml): `alpha` (0.05), `common_items`
(false), `test` ("permutation" or "bootstrap" for non-0/1 metrics). See `fourlens.behavior.findings`
for how regressions become findings (severity and confidence), and `fourlens.behavior.latency` for the
agent-latency finding.
"""

from __future__ import annotations

from fourlens.behavior.compare import compare
from fourlens.behavior.corpus import compare_corpus, corpus_findings, untested_note
from fourlens.behavior.evals import load_evals
from fourlens.behavior.figures import forest_figure
from fourlens.behavior.latency import compare_latency
from fourlens.behavior.traces import load_traces
from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    options = candidate.lens_options("behavior")
    findings, figures, notes = [], [], []
    if baseline.has("evals") and candidate.has("evals"):
        evals_a, evals_b = load_evals(baseline.paths("evals")), load_evals(candidate.paths("evals"))
        if len(evals_a.items) and len(evals_b.items):
            result = compare(evals_a, evals_b, alpha=float(options.get("alpha", 0.05)),
                             common_items=bool(options.get("common_items", False)),
                             test=str(options.get("test", "permutation")))
            findings.extend(result.findings())
            figures.append(forest_figure(result, baseline.name, candidate.name))
        # metrics computed over the whole set (F1, BLEU, ...): paired bootstrap or the harness' stderr
        corpus = compare_corpus(evals_a, evals_b)
        findings.extend(corpus_findings(corpus, alpha=float(options.get("alpha", 0.05))))
        if (note := untested_note(corpus)) is not None:
            notes.append(note)
    if baseline.has("agent_traces") and candidate.has("agent_traces"):
        traces_a, traces_b = load_traces(baseline.paths("agent_traces")), load_traces(candidate.paths("agent_traces"))
        notes.extend(f"{side} traces: {note}" for side, traces in (("baseline", traces_a), ("candidate", traces_b))
                     for note in traces.notes)
        latency = compare_latency(traces_a, traces_b, alpha=float(options.get("alpha", 0.05)))
        findings.extend(latency.findings())
        figures.extend(latency.figures())
    return Diagnosis(findings=findings, figures=figures, notes=notes)
