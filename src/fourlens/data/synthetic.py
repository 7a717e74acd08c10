"""Generated documents for demos: a data snapshot whose domain mix is a run's mix.

Each domain has its own kind of text, so the mix shows in the token statistics as well as in the
`domain` field: arithmetic (digits and operators), code (Python with brackets and keywords), reading
(prose). Seeded and fast (thousands of documents in well under a second).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

NOUNS = ("river", "village", "library", "harbour", "festival", "mountain", "market", "school", "garden", "bridge",
         "council", "museum", "railway", "forest", "island", "castle", "orchestra", "newspaper")
VERBS = ("opened", "crossed", "described", "visited", "built", "restored", "recorded", "explored", "painted")
ADJECTIVES = ("old", "quiet", "northern", "famous", "small", "busy", "ancient", "coastal", "modern")
FUNCS = ("parse", "load", "merge", "count", "score", "split", "render", "update")


def _reading(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(3, 7)):
        sentences.append(f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} was {rng.choice(VERBS)} by the "
                         f"people of the {rng.choice(NOUNS)}, who later {rng.choice(VERBS)} the {rng.choice(NOUNS)}.")
    return " ".join(sentences)


def _arithmetic(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(2, 5)):
        a, b = rng.randint(2, 999), rng.randint(2, 99)
        op = rng.choice("+-*")
        value = a + b if op == "+" else a - b if op == "-" else a * b
        lines.append(f"Compute {a} {op} {b}. We get {a} {op} {b} = {value}.")
    return " ".join(lines)


def _code(rng: random.Random) -> str:
    name, arg = rng.choice(FUNCS), rng.choice(("items", "rows", "tokens", "lines"))
    return (f"def {name}_{rng.randint(0, 99)}({arg}):\n    result = {{}}\n    for key in {arg}[{rng.randint(0, 9)}:]:\n"
            f"        if key not in result:\n            result[key] = len(key)\n    return result\n")


WRITERS = {"arithmetic": _arithmetic, "code": _code, "reading": _reading}


def snapshot_documents(domains: Sequence[str], mix: Sequence[float], n_docs: int = 3000,
                       seed: int = 0) -> list[dict]:
    """`n_docs` documents ({"text", "domain"}) drawn with the given domain shares."""
    unknown = [d for d in domains if d not in WRITERS]
    if unknown:
        raise ValueError(f"no text generator for domain(s) {unknown}; known: {', '.join(WRITERS)}")
    rng = random.Random(seed)
    picks = rng.choices(list(domains), weights=list(mix), k=n_docs)
    return [{"text": WRITERS[d](rng), "domain": d} for d in picks]
