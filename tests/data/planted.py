"""A training corpus with planted contamination and boilerplate, and the eval set it contaminates."""

from __future__ import annotations

import json
import random
from pathlib import Path

LICENCE = ("Permission is hereby granted free of charge to any person obtaining a copy of this software and "
           "associated documentation files to deal in the software without restriction")
VOCAB = [f"w{i}" for i in range(500)]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def planted_case(root: Path, seed: int = 0) -> tuple[Path, Path, dict[str, bool]]:
    """Write train shards and an eval JSONL; return their paths and each item's ground truth
    (True: its text is in the training data)."""
    rng = random.Random(seed)
    docs = [sentence(rng, rng.randint(40, 120)) for _ in range(600)]
    for i in range(0, 600, 8):   # boilerplate in 75 documents
        docs[i] = f"{docs[i]} {LICENCE}."
    items, truth = [], {}

    def add(item_id: str, text: str, dirty: bool) -> None:
        items.append({"id": item_id, "prompt": text, "answer": ""})
        truth[item_id] = dirty

    for k in range(15):   # verbatim, with different case and punctuation in training
        text = sentence(rng, 40)
        docs[rng.randrange(600)] += " " + text.upper().replace(" ", ", ", 3) + "!"
        add(f"verbatim-{k}", text, True)
    for k in range(15):   # lightly edited in training: one word replaced near the start
        words = sentence(rng, 40).split()
        edited = list(words)
        edited[4] = "changed"
        docs[rng.randrange(600)] += " " + " ".join(edited)
        add(f"edited-{k}", " ".join(words), True)
    for k in range(10):   # partly in training: the first 25 of 40 words (13 of 28 13-grams)
        words = sentence(rng, 40).split()
        docs[rng.randrange(600)] += " " + " ".join(words[:25])
        add(f"partial-{k}", " ".join(words), True)
    for k in range(15):   # paraphrased beyond the threshold: every 8th word replaced, no 13-gram survives
        words = sentence(rng, 40).split()
        para = [("other" if i % 8 == 7 else w) for i, w in enumerate(words)]
        docs[rng.randrange(600)] += " " + " ".join(para)
        add(f"paraphrased-{k}", " ".join(words), False)
    for k in range(10):   # short items (5 words): half of them are in the training data
        text = sentence(rng, 5)
        if k % 2 == 0:
            docs[rng.randrange(600)] += " " + text
        add(f"short-{k}", text, k % 2 == 0)
    for k in range(10):   # boilerplate only: the licence plus fresh words, not contamination
        add(f"boilerplate-{k}", f"{LICENCE} {sentence(rng, 6)}", False)
    for k in range(35):
        add(f"clean-{k}", sentence(rng, 40), False)
    train = root / "train"
    train.mkdir(parents=True, exist_ok=True)
    for s in range(4):
        (train / f"part-{s}.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs[s::4]))
    evals = root / "evals" / "quiz.jsonl"
    evals.parent.mkdir(parents=True, exist_ok=True)
    evals.write_text("".join(json.dumps(i) + "\n" for i in items))
    return train, evals, truth
