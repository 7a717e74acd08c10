"""Score a triage report against a scenario's planted causes.

- A finding names a planted cause when its `kind` is one the cause accepts and, when the cause names
  subjects, one of them occurs (case-insensitively) in the finding's subject or title.
- top-1: the first entry of `Report.findings` names a planted cause; top-3: a planted cause is named
  among the first three. Scored on scenarios with at least one cause.
- false alarm: a scenario without a planted cause whose `Report.findings` holds any entry with
  score (severity x confidence) >= 0.5.
- A triage that raises is a miss (and, on a scenario without a cause, not a false alarm: it is
  counted under crashes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

FALSE_ALARM_SCORE = 0.5


def _field(finding, name: str, default=""):
    if isinstance(finding, Mapping):
        return finding.get(name, default)
    return getattr(finding, name, default)


def matches(finding, accept: Mapping) -> bool:
    """Whether one finding (a `Finding` or its dict) names a cause through one `Accept` (as a dict)."""
    if (_field(finding, "kind") or "") not in accept["kinds"]:
        return False
    subjects = accept.get("subjects") or ()
    if not subjects:
        return True
    text = f"{_field(finding, 'subject') or ''} {_field(finding, 'title') or ''}".lower()
    return any(s.lower() in text for s in subjects)


def cause_rank(findings: Sequence, cause: Mapping) -> int | None:
    """Position (0-based) of the first finding that names `cause` (a Planted dict), or None."""
    for position, finding in enumerate(findings):
        if any(matches(finding, accept) for accept in cause["accept"]):
            return position
    return None


def summary_of(finding) -> dict:
    score = _field(finding, "score", None)
    if score is None:
        score = float(_field(finding, "severity", 0.0)) * float(_field(finding, "confidence", 0.0))
    return {"lens": _field(finding, "lens"), "kind": _field(finding, "kind"), "subject": _field(finding, "subject"),
            "title": _field(finding, "title"), "score": round(float(score), 4)}


def score_scenario(findings: Sequence | None, truth: Mapping, error: str | None = None) -> dict:
    """Per-scenario outcome: the rank of each planted cause, top-1/top-3, false alarm, what ranked first."""
    causes = truth["causes"]
    findings = list(findings or [])
    ranks = {c["cause"]: cause_rank(findings, c) for c in causes}
    found = [r for r in ranks.values() if r is not None]
    alarms = [summary_of(f) for f in findings if summary_of(f)["score"] >= FALSE_ALARM_SCORE]
    return {
        "index": truth["index"], "causes": [c["cause"] for c in causes], "ranks": ranks,
        "top1": bool(causes) and error is None and 0 in found,
        "top3": bool(causes) and error is None and any(r < 3 for r in found),
        "all_top3": bool(causes) and error is None and all(r is not None and r < 3 for r in ranks.values()),
        "false_alarm": not causes and error is None and bool(alarms),
        "alarms": alarms if not causes else [],
        "first": [summary_of(f) for f in findings[:3]],
        "n_findings": len(findings), "error": error,
    }


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def summarize(results: Iterable[Mapping], families: Mapping[str, str]) -> dict:
    """Overall, per-cause and per-family figures, and the misses (with what ranked first)."""
    results = list(results)
    caused = [r for r in results if r["causes"]]
    clean = [r for r in results if not r["causes"]]
    per_cause: dict[str, dict] = defaultdict(lambda: {"n": 0, "top1": 0, "top3": 0, "first": 0})
    for r in caused:
        for cause, rank in r["ranks"].items():
            row = per_cause[cause]
            row["n"] += 1
            row["top1"] += int(r["top1"])          # the scenario's first finding names a planted cause
            row["first"] += int(rank == 0)         # ... and it is this one
            row["top3"] += int(rank is not None and rank < 3)
    per_family: dict[str, dict] = defaultdict(lambda: {"n": 0, "top1": 0, "top3": 0})
    for cause, row in per_cause.items():
        fam = per_family[families[cause]]
        for key in ("n", "top1", "top3"):
            fam[key] += row[key]
    two = [r for r in caused if len(r["causes"]) == 2]
    return {
        "scenarios": len(results), "with_cause": len(caused), "without_cause": len(clean),
        "top1": _rate(sum(r["top1"] for r in caused), len(caused)),
        "top3": _rate(sum(r["top3"] for r in caused), len(caused)),
        "both_causes_top3": _rate(sum(r["all_top3"] for r in two), len(two)),
        "false_alarm_rate": _rate(sum(r["false_alarm"] for r in clean), len(clean)),
        "crashes": sum(1 for r in results if r["error"]),
        "per_cause": {c: {**row, "top1_rate": _rate(row["top1"], row["n"]), "top3_rate": _rate(row["top3"], row["n"])}
                      for c, row in sorted(per_cause.items())},
        "per_family": {f: {**row, "top1_rate": _rate(row["top1"], row["n"]), "top3_rate": _rate(row["top3"], row["n"])}
                       for f, row in sorted(per_family.items())},
        "misses": [{"index": r["index"], "causes": r["causes"], "ranks": r["ranks"], "first": r["first"][:1],
                    "error": r["error"]} for r in caused if not r["top1"]],
        "false_alarms": [{"index": r["index"], "alarms": r["alarms"][:3]} for r in clean if r["false_alarm"]],
    }


def markdown(summary: Mapping, families: Mapping[str, str], header: str = "") -> str:
    """The per-cause table and the overall rows, in benchmarks/README.md's style."""
    lines = [header] if header else []
    lines += ["| cause | family | scenarios | top-1 (scenario) | this cause first | this cause in top-3 | "
              "what ranked first on misses (most common) |",
              "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    firsts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for miss in summary["misses"]:
        label = "crash" if miss["error"] else (_label(miss["first"][0]) if miss["first"] else "no finding")
        for cause in miss["causes"]:
            firsts[cause][label] += 1
    for cause, row in summary["per_cause"].items():
        common = sorted(firsts[cause].items(), key=lambda kv: -kv[1])[:2]
        misses = "; ".join(f"{k} ({v})" for k, v in common) or "-"
        lines.append(f"| {cause} | {families[cause]} | {row['n']} | {row['top1']}/{row['n']} | "
                     f"{row['first']}/{row['n']} | {row['top3']}/{row['n']} | {misses} |")
    n = summary["with_cause"]
    top1 = round(summary["top1"] * n) if n else 0
    top3 = round(summary["top3"] * n) if n else 0
    lines.append(f"| **all with a cause** (top-1, top-3: a planted cause first / in the first 3) | | {n} | "
                 f"**{top1}/{n} = {summary['top1']}** | | **{top3}/{n} = {summary['top3']}** | |")
    clean = summary["without_cause"]
    alarms = len(summary["false_alarms"])
    lines.append(f"| **no cause: false alarms** (a finding scoring >= 0.5) | | {clean} | | | | "
                 f"**{alarms}/{clean} = {summary['false_alarm_rate']}** |")
    return "\n".join(lines) + "\n"


def _label(first: Mapping) -> str:
    kind = first.get("kind") or "(no kind)"
    return f"{kind}" + (f" [{first['subject']}]" if first.get("subject") else "")
