"""Where a change began: bisect the checkpoints between a baseline and a candidate.

A regression found between the baseline and the latest checkpoint is looked for in the checkpoints
in between, by binary search: compare the baseline with the middle checkpoint (the lens that found it
only), keep the half where it first shows. This assumes that once a change shows it stays (true of a
fault in the data mix or a training event, which every later checkpoint inherits); with n checkpoints
in between it costs about log2(n) comparisons instead of n. A flipped eval item is bisected the same
way on its own score: the first checkpoint whose score equals the candidate's (for an item that flipped
back and forth, one checkpoint where it flipped, the first when it flipped once).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence

from fourlens.report import Finding, Report


def first_index(lo: int, hi: int, present: Callable[[int], bool]) -> int | None:
    """The smallest i in [lo, hi] with present(i), for a present() that is False, ..., False, True, ...,
    True over the range; None when present(hi) is False. Calls present() about log2(hi - lo + 1) times."""
    if lo > hi or not present(hi):
        return None
    while lo < hi:
        middle = (lo + hi) // 2
        if present(middle):
            hi = middle
        else:
            lo = middle + 1
    return hi


def finding_key(finding: Finding) -> tuple[str, str, str]:
    """What identifies a finding across reports: its lens, kind and subject; for a finding without a kind,
    the words of its title before the first number ("lr schedule at step 450" -> "lr schedule at step")."""
    if finding.kind:
        return finding.lens, finding.kind, finding.subject
    return finding.lens, "", re.split(r"[-+]?\d", finding.title, maxsplit=1)[0].strip().lower()


def shows(report: Report, key: tuple[str, str, str]) -> bool:
    """Whether `report` ranks a finding with this key."""
    return any(finding_key(f) == key for f in report.findings)


def finding_onsets(findings: Iterable[Finding], base_index: int, cand_index: int,
                   lens_report: Callable[[int, str], Report]) -> dict[tuple[str, str, str], int | None]:
    """Per finding key, the index of the first checkpoint in (base_index, cand_index] whose comparison with
    the baseline ranks it. `lens_report(i, lens)` is the triage report of the baseline against checkpoint
    i through the lenses of one DESIGN.md lens; it is called once per (i, lens) and the reports are
    shared between findings of the same lens."""
    seen: dict[tuple[int, str], Report] = {}

    def report_at(i: int, lens: str) -> Report:
        if (i, lens) not in seen:
            seen[(i, lens)] = lens_report(i, lens)
        return seen[(i, lens)]

    onsets: dict[tuple[str, str, str], int | None] = {}
    for finding in findings:
        key = finding_key(finding)
        if key in onsets:
            continue
        onsets[key] = first_index(base_index + 1, cand_index, lambda i, k=key: shows(report_at(i, k[0]), k))
    return onsets


def flip_onsets(items: Sequence[tuple[Hashable, float]], base_index: int, cand_index: int,
                scores_at: Callable[[int], dict]) -> dict[Hashable, int | None]:
    """Per flipped item (key, its score at the candidate), the index of the first checkpoint in
    (base_index, cand_index] whose score for it equals the candidate's. `scores_at(i)` maps item keys to
    scores at checkpoint i (an item a checkpoint did not score counts as not yet flipped); it is called
    at most once per checkpoint, and only for the checkpoints the searches visit."""
    tables: dict[int, dict] = {}

    def table(i: int) -> dict:
        if i not in tables:
            tables[i] = scores_at(i)
        return tables[i]

    return {key: first_index(base_index + 1, cand_index, lambda i, k=key, s=score: table(i).get(k) == s)
            for key, score in items}
