"""Which model behaviors a data change is likely to move, by domain or token-class name.

A lookup, not a model: domain names are matched by their name tokens against the concept table of
`fourlens.report.subjects` (e.g. "github.com" -> code), the same table triage links data findings to
eval findings with, so the advice a finding gives and the links triage draws agree.
"""

from __future__ import annotations

from fourlens.report.subjects import concept_effect

CLASS_EFFECTS = {
    "digits": "arithmetic and numeric reasoning (GSM8K, arithmetic tasks)",
    "math": "math benchmarks (GSM8K, MATH) and LaTeX output",
    "code": "coding benchmarks (HumanEval, MBPP)",
    "non_latin": "multilingual benchmarks and non-English prompts",
    "whitespace": "code formatting and indentation, long-document layout",
    "special": "chat-template and control-token handling: stopping at the end of a turn (output length)",
    "other": "general prose and knowledge tasks",
}


def domain_effect(domain: str) -> str | None:
    return concept_effect(domain)
