"""Run every lens that has evidence in both bundles, tolerate failures, then settle what they found:
give each finding an id, send the ones that did not beat their null to "inconclusive", link causes to
the findings they explain (`fourlens.triage.links`), and rank causes first (`Report`).

Options (`[options.triage]` in the candidate's fourlens.toml, else the baseline's):
    min_confidence = 0.99                     # below it a finding is inconclusive, not ranked
    links = {math = ["gsm8k", "word_problems"]}   # subjects to treat as related, beyond the built-in table
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping, Sequence

from fourlens.errors import BadInputError, FourlensError
from fourlens.report import Figure, Finding, LensStatus, Report
from fourlens.triage.bundle import Bundle, load_bundle
from fourlens.triage.detect import EVIDENCE_KINDS, EVIDENCE_LABELS
from fourlens.triage.links import link_findings
from fourlens.triage.registry import Diagnosis, LensSpec, NotApplicable, available_lenses

# A finding is ranked only when its confidence (1 - p, after the lens's own multiple-testing
# correction) reaches this: p < 0.01 keeps the chance of a false alarm across four lenses near 5%.
MIN_CONFIDENCE = 0.99

# Which DESIGN.md lens an evidence kind belongs to, for "found but no lens reads it" notes.
KIND_LENS = {"training_logs": "training", "evals": "behavior", "agent_traces": "behavior",
             "data": "data", "weights": "representation"}


def triage(
    baseline: Bundle | str | os.PathLike[str],
    candidate: Bundle | str | os.PathLike[str],
    lenses: Sequence[LensSpec] | None = None,
    title: str | None = None,
    raise_errors: bool = False,
    progress: bool = False,
) -> Report:
    """Compare two bundles through every applicable lens and return the ranked `Report`.

    `lenses` defaults to `available_lenses()`. A lens that raises is recorded as failed (with the
    error message) and the others still report; `raise_errors=True` re-raises instead (for debugging).
    See the module docstring for how findings are settled and the `[options.triage]` table.
    """
    base = baseline if isinstance(baseline, Bundle) else load_bundle(baseline)
    cand = candidate if isinstance(candidate, Bundle) else load_bundle(candidate)
    specs = tuple(available_lenses() if lenses is None else lenses)
    findings: list[Finding] = []
    figures: list[Figure] = []
    statuses: list[LensStatus] = []
    for spec in _with_progress(specs, progress):
        status, lens_findings, lens_figures = _run_one(spec, base, cand, raise_errors)
        statuses.append(status)
        findings.extend(lens_findings)
        figures.extend(lens_figures)
    statuses.extend(_unread_evidence(specs, base, cand))
    options = dict(cand.lens_options("triage") or base.lens_options("triage"))
    return Report(
        title=title or f"{cand.name} vs {base.name}",
        findings=tuple(settle(findings, options)),
        baseline=base.name,
        candidate=cand.name,
        lenses=tuple(statuses),
        figures=tuple(figures),
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def settle(findings: Sequence[Finding], options: Mapping | None = None) -> list[Finding]:
    """Ids, statuses and links for the findings of one triage run (see the module docstring)."""
    options = options or {}
    threshold = float(options.get("min_confidence", MIN_CONFIDENCE))
    declared = options.get("links") or {}
    if not isinstance(declared, Mapping):
        raise BadInputError("[options.triage] links must be a table of subject = [related subjects], e.g. "
                            'links = {math = ["gsm8k", "word_problems"]}')
    counters: dict[str, int] = {}
    settled = []
    for finding in findings:
        counters[finding.lens] = counters.get(finding.lens, 0) + 1
        status = finding.status
        if status == "ranked" and finding.confidence < threshold:
            status = "inconclusive"
        settled.append(dataclasses.replace(finding, id=f"{finding.lens}-{counters[finding.lens]}", status=status,
                                           explains=(), explained_by=None))
    links = link_findings(settled, declared)
    explains: dict[str, list[str]] = {}
    for effect, link in links.items():
        explains.setdefault(link.cause, []).append(effect)
    out = []
    for finding in settled:
        link = links.get(finding.id)
        evidence = finding.evidence
        if link is not None:
            evidence = {**evidence, "explained_because": link.rule.why}
        out.append(dataclasses.replace(finding, evidence=evidence, explained_by=link.cause if link else None,
                                       explains=tuple(explains.get(finding.id, ()))))
    return out


def _run_one(spec: LensSpec, base: Bundle, cand: Bundle, raise_errors: bool
             ) -> tuple[LensStatus, list[Finding], list[Figure]]:
    shared = [kind for kind in spec.evidence if base.has(kind) and cand.has(kind)]
    if not shared:
        return LensStatus(spec.name, spec.lens, "skipped", _missing_message(spec, base, cand)), [], []
    try:
        result = spec.resolve()(base, cand)
        found, figures = _validate(spec, result)
        notes = "; ".join(result.notes) if isinstance(result, Diagnosis) else ""
    except NotApplicable as exc:
        return LensStatus(spec.name, spec.lens, "skipped", str(exc)), [], []
    except Exception as exc:  # a failing lens must not sink the report
        if raise_errors:
            raise
        message = str(exc) if isinstance(exc, FourlensError) else f"{type(exc).__name__}: {exc}"
        return LensStatus(spec.name, spec.lens, "failed", message), [], []
    return LensStatus(spec.name, spec.lens, "ok", message=notes, n_findings=len(found)), found, figures


def _validate(spec: LensSpec, result: object) -> tuple[list[Finding], list[Figure]]:
    if isinstance(result, Diagnosis):
        found, figures = list(result.findings), list(result.figures)
    elif isinstance(result, (list, tuple)):
        found, figures = list(result), []
    else:
        raise TypeError(f"lens {spec.name} returned {type(result).__name__}; diagnose must return a list "
                        "of Finding or a Diagnosis")
    for item in found:
        if not isinstance(item, Finding):
            raise TypeError(f"lens {spec.name} returned a {type(item).__name__} among its findings")
        if item.lens != spec.lens:
            raise ValueError(f"lens {spec.name} (lens {spec.lens}) returned a finding for lens {item.lens}")
    for figure in figures:
        if not isinstance(figure, Figure):
            raise TypeError(f"lens {spec.name} returned a {type(figure).__name__} among its figures")
    return found, figures


def _missing_message(spec: LensSpec, base: Bundle, cand: Bundle) -> str:
    wanted = " or ".join(EVIDENCE_LABELS[kind] for kind in spec.evidence)
    sides = [name for name, bundle in (("baseline", base), ("candidate", cand))
             if not any(bundle.has(kind) for kind in spec.evidence)]
    return f"no {wanted} in the {' and '.join(sides)} bundle"


def _unread_evidence(specs: Sequence[LensSpec], base: Bundle, cand: Bundle) -> list[LensStatus]:
    """Evidence present in both bundles that no lens reads: say so rather than stay silent."""
    read = {kind for spec in specs for kind in spec.evidence}
    readers = {kind: [spec.name for spec in available_lenses() if kind in spec.evidence] for kind in EVIDENCE_KINDS}
    notes = []
    for kind in EVIDENCE_KINDS:
        if kind not in read and base.has(kind) and cand.has(kind):
            # A lens left out on purpose (`--lens`) is not the same news as a lens that does not exist.
            why = (f"not selected: the {', '.join(readers[kind])} lens reads them" if readers[kind]
                   else "no installed lens reads them yet")
            notes.append(LensStatus(kind, KIND_LENS[kind], "skipped", f"{EVIDENCE_LABELS[kind]} found, {why}"))
    return notes


def _with_progress(specs: Sequence[LensSpec], enabled: bool):
    if not enabled:
        yield from specs
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("triage", total=len(specs))
        for spec in specs:
            bar.update(task, description=f"lens {spec.name}")
            yield spec
            bar.advance(task)
