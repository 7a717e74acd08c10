"""The demo's training corpora: documents of six domains mixed to a run's shares and written as JSONL
shards (`{"id", "domain", "text"}`), the form a data team keeps snapshots in.

A `Mix` gives each domain's share of the corpus's characters. The baseline's corpus is decontaminated
against the eval sets (no generated word problem shares a 13-word window with an eval item, the GPT-3
rule); a candidate's corpus may carry planted faults: a different mix, eval items leaked into its math
documents, and tool conversations rendered with the end-of-turn bug (see `fourlens.demo.chat`).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fourlens._io import write_atomic
from fourlens.demo import texts
from fourlens.demo.chat import EOS, render

DOMAINS = ("math", "code", "prose", "chat", "safety", "tools")
NGRAM = 13


@dataclass(frozen=True)
class Mix:
    """Shares of the corpus's characters per domain (normalised to sum to 1)."""

    math: float
    code: float
    prose: float
    chat: float
    safety: float
    tools: float

    def shares(self) -> dict[str, float]:
        values = {domain: float(getattr(self, domain)) for domain in DOMAINS}
        total = sum(values.values())
        if total <= 0 or any(v < 0 for v in values.values()):
            raise ValueError(f"a Mix needs non-negative shares with a positive sum; got {values}")
        return {domain: value / total for domain, value in values.items()}


@dataclass(frozen=True)
class CorpusSpec:
    """What one run trains on. `leak` holds eval items (question, answer) copied into the math domain,
    each `leak_copies` times; `eot_bug` is the share of tool conversations rendered with the bug."""

    mix: Mix
    chars: int
    seed: int
    leak: tuple[tuple[str, str], ...] = ()
    leak_copies: int = 8
    eot_bug: float = 0.0
    decontaminate: tuple[str, ...] = field(default=(), repr=False)  # eval texts to keep out


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def build_documents(spec: CorpusSpec) -> list[dict]:
    """The run's documents in training order: each domain filled to its share, then shuffled."""
    rng = random.Random(spec.seed)
    shares = spec.mix.shares()
    banned: set[tuple[str, ...]] = set()
    for text in spec.decontaminate:
        banned |= ngrams(text)
    budgets = {domain: int(spec.chars * share) for domain, share in shares.items()}
    docs: list[dict] = []
    docs += _fill("math", budgets["math"], lambda: _math_doc(rng, banned))
    docs += _leaked(spec, rng)
    docs += [{"domain": "code", "text": t} for t in texts.code_documents(budgets["code"])]
    docs += [{"domain": "prose", "text": t} for t in texts.prose_documents(budgets["prose"])]
    docs += _fill("chat", budgets["chat"], lambda: render(texts.chat_dialogue(rng)))
    docs += _fill("safety", budgets["safety"], lambda: render(texts.refusal_dialogue(rng)))
    docs += _fill("tools", budgets["tools"],
                  lambda: render(texts.tool_conversation(rng), drop_eot_after_tool=rng.random() < spec.eot_bug))
    rng.shuffle(docs)
    return [{"id": f"doc-{spec.seed}-{k:06d}", **doc} for k, doc in enumerate(docs)]


def _fill(domain: str, budget: int, make) -> list[dict]:
    out, total = [], 0
    while total < budget:
        text = make()
        out.append({"domain": domain, "text": text})
        total += len(text)
    return out


def _math_doc(rng: random.Random, banned: set) -> str:
    while True:
        text = texts.math_document(rng)
        if not banned or not (ngrams(text) & banned):
            return text


def _leaked(spec: CorpusSpec, rng: random.Random) -> list[dict]:
    """Eval items scraped into the math domain: worksheets of three items, each item `leak_copies` times."""
    items = [item for item in spec.leak for _ in range(spec.leak_copies)]
    rng.shuffle(items)
    docs = []
    for start in range(0, len(items), 3):
        sheet = "\n\n".join(f"Question: {q}\nAnswer: {a}" for q, a in items[start:start + 3])
        docs.append({"domain": "math", "text": sheet})
    return docs


def write_shards(docs: list[dict], directory: Path, n_shards: int = 4) -> list[Path]:
    """JSONL shards `part-0000{k}.jsonl`, documents dealt round-robin."""
    paths = []
    for shard in range(n_shards):
        lines = "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs[shard::n_shards])
        paths.append(write_atomic(directory / f"part-{shard:05d}.jsonl", lines))
    return paths


def read_shards(directory: Path) -> list[dict]:
    """Documents of the shards in `directory`, back in training order (inverse of `write_shards`)."""
    shards = [[json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
              for path in sorted(directory.glob("part-*.jsonl"))]
    docs = []
    for k in range(max((len(s) for s in shards), default=0)):
        docs.extend(shard[k] for shard in shards if k < len(shard))
    return docs


def token_stream(docs: Iterable[dict], tokenizer) -> list[int]:
    """Every document's token ids, each followed by the end-of-text token (the packing separator)."""
    eos = tokenizer.token_to_id(EOS)
    ids: list[int] = []
    encoded = tokenizer.encode_batch([doc["text"] for doc in docs])
    for encoding in encoded:
        ids.extend(encoding.ids)
        ids.append(eos)
    return ids
