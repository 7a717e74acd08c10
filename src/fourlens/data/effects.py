"""Which model behaviors a data change is likely to move, by domain or token-class name.

A lookup, not a model: the names are matched as words inside the domain (e.g. "github.com" -> code).
The links follow the usual suspects in data-mix studies (less code -> weaker code benchmarks, fewer math
tokens -> weaker math word problems), so a finding says which eval to open next.
"""

from __future__ import annotations

import re

DOMAIN_EFFECTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("code", "github", "stackoverflow", "stackexchange", "python", "programming", "software"),
     "coding benchmarks (HumanEval, MBPP) and code completion"),
    (("math", "arxiv", "latex", "proof", "theorem", "mathematics"),
     "math benchmarks (GSM8K, MATH) and step-by-step reasoning"),
    (("arithmetic", "numbers", "numeric"), "arithmetic and numeric reasoning evals"),
    (("wiki", "wikipedia", "books", "book", "encyclopedia", "news", "reading", "prose", "essay"),
     "knowledge and reading comprehension (MMLU, TriviaQA, reading tasks)"),
    (("social", "reddit", "twitter", "forum", "chat", "comments", "x"),
     "conversational tone, toxicity and jailbreak rates"),
    (("legal", "law", "medical", "pubmed", "health", "science"), "domain QA benchmarks (legal, medical, science)"),
    (("multilingual", "translation", "zh", "ru", "de", "fr", "ja", "ar"), "multilingual benchmarks"),
)

CLASS_EFFECTS = {
    "digits": "arithmetic and numeric reasoning (GSM8K, arithmetic tasks)",
    "math": "math benchmarks (GSM8K, MATH) and LaTeX output",
    "code": "coding benchmarks (HumanEval, MBPP)",
    "non_latin": "multilingual benchmarks and non-English prompts",
    "whitespace": "code formatting and indentation, long-document layout",
    "special": "chat-template and control-token handling",
    "other": "general prose and knowledge tasks",
}


def domain_effect(domain: str) -> str | None:
    words = set(re.findall(r"[a-z]+", domain.lower()))
    for names, effect in DOMAIN_EFFECTS:
        if words & set(names):
            return effect
    return None
