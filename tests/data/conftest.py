"""Generated corpora with planted drift: every corpus here is written by the fixture, nothing downloaded."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

WORDS = ("the", "of", "and", "a", "to", "in", "is", "was", "for", "on", "that", "with", "as", "by", "it",
         "from", "at", "this", "be", "are", "an", "which", "river", "city", "music", "history", "season",
         "village", "population", "album", "film", "school", "church", "team", "people", "during")


def prose(rng: random.Random, n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def code(rng: random.Random) -> str:
    name = rng.choice(["parse", "load", "merge", "count", "fit"])
    return (f"def {name}_{rng.randint(0, 999)}(self, items):\n    total = {{}}\n"
            f"    for x in items[{rng.randint(1, 9)}:]:\n"
            f"        total[x] = len(x) + {rng.randint(0, 99)}\n    return total;\n")


def math(rng: random.Random) -> str:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return (f"We have $\\frac{{{a}}}{{{b}}} + x^2 = {a + b}$, so x = \\sqrt{{{a * b}}} and "
            f"{a} \\times {b} = {a * b}. {prose(rng, 12)}")


GENERATORS = {"wiki": prose, "code": code, "math": math}


def write_corpus(root: Path, mix: dict[str, float], n_docs: int = 600, shards: int = 3, seed: int = 0,
                 duplicates: int = 0) -> Path:
    """JSONL shards with `text` and `domain` fields; `mix` gives each domain's share of documents."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    docs = []
    for _ in range(n_docs):
        domain = rng.choices(list(mix), weights=list(mix.values()))[0]
        gen = GENERATORS[domain]
        docs.append({"text": gen(rng), "domain": domain, "url": f"https://www.{domain}.example.org/{rng.random()}"})
    docs.extend(dict(docs[i]) for i in range(duplicates))
    for s in range(shards):
        part = docs[s::shards]
        (root / f"shard-{s:03d}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in part), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def corpora(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("corpora")
    return {
        "baseline": write_corpus(base / "baseline", {"wiki": 0.5, "code": 0.3, "math": 0.2}, seed=0),
        "no_code": write_corpus(base / "no_code", {"wiki": 0.7, "math": 0.3}, seed=1),
        "no_math": write_corpus(base / "no_math", {"wiki": 0.6, "code": 0.4}, seed=2),
        "same": write_corpus(base / "same", {"wiki": 0.5, "code": 0.3, "math": 0.2}, seed=3),
    }
