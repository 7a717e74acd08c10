"""Data lens benchmarks, side by side in one process run (python benchmarks/data/bench_data.py).

1. Contamination scan vs a straightforward Python set-of-n-grams scan (benchmarks/data/naive.py) and
   vs the floor (reading + tokenizing the corpus alone), measured two ways: the Python floor (json.loads
   + the normalization regex, what the naive scan spends before any n-gram work) and fourlens' own
   floor (its JSONL reader + its vectorized word splitting and hashing, one process). On the stdlib
   corpus (35.5 MB) and on a ~9x larger near-duplicate of it (~320 MB, corpus.build_large).
2. Token counting (fourlens.data.corpus_profile with the MiniLM tokenizer.json) vs the tokenizer's own
   encode_batch over the same texts.
3. Ray with 2 workers vs 1 worker (profile, words tokenizer), and the peak memory of each worker.
Corpus: the Python standard library on this machine (code) and its docstrings (prose), see corpus.py.
Writes benchmarks/results/data_*.json. Times are the best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402
from corpus import build, build_large  # noqa: E402
from naive import floor_scan, naive_scan  # noqa: E402

from fourlens.data import minilm_tokenizer_path, profile  # noqa: E402
from fourlens.data.contamination import contamination  # noqa: E402
from fourlens.data.corpus import as_corpus, iter_texts  # noqa: E402
from fourlens.data.scan import BATCH_CHARS, BATCH_DOCS  # noqa: E402
from fourlens.data.tokenize import load_tokenizer  # noqa: E402
from fourlens.data.wordhash import hash_words, normalize_words  # noqa: E402

RESULTS = HERE.parent / "results"


def interleaved(fns: dict, repeat: int) -> dict[str, tuple[float, object]]:
    """Best time of each function, the functions taking turns in every round, so that a load change on
    a shared machine hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    values: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            values[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (min(times[name]), values[name]) for name in fns}


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished children (pool workers): on a shared,
    loaded machine this moves far less than wall time, since time spent waiting for a core is not in it."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def interleaved_cpu(fns: dict, repeat: int) -> dict[str, tuple[float, float, object]]:
    """`interleaved`, also giving each function's least CPU seconds over the rounds: (wall, cpu, value)."""
    walls: dict[str, list[float]] = {name: [] for name in fns}
    cpus: dict[str, list[float]] = {name: [] for name in fns}
    values: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            cpu, start = cpu_seconds(), time.perf_counter()
            values[name] = fn()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(cpu_seconds() - cpu)
    return {name: (min(walls[name]), min(cpus[name]), values[name]) for name in fns}


def best(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def eval_items(docs: list[dict], n_items: int, seed: int = 0) -> pd.DataFrame:
    """Half leaked (a paragraph of a stdlib docstring, verbatim), half fresh (random stdlib words)."""
    rng = random.Random(seed)
    prose = [d["text"] for d in docs if d["domain"] == "prose"]
    words = [w for text in prose[:300] for w in normalize_words(text)]
    rows = []
    for k in range(n_items // 2):
        paragraphs = [p for p in rng.choice(prose).split("\n\n") if len(p.split()) >= 20] or [rng.choice(prose)]
        rows.append({"eval_set": "leaked", "item_id": str(k), "text": rng.choice(paragraphs)})
        rows.append({"eval_set": "fresh", "item_id": str(k), "text": " ".join(rng.choice(words) for _ in range(60))})
    return pd.DataFrame(rows)


def fourlens_floor(corpus: Path) -> int:
    """Reading + tokenizing with fourlens' own pieces (orjson JSONL reader, lowercasing, vectorized word
    boundaries and word hashes), in the scan's batches, one process: the floor of a scan built on them."""
    spec = as_corpus(corpus, domain_from="none")
    words = 0
    for shard in spec.shards:
        batch: list[str] = []
        chars = 0
        for text in iter_texts(spec, shard):
            batch.append(text)
            chars += len(text)
            if len(batch) >= BATCH_DOCS or chars >= BATCH_CHARS:
                words += len(hash_words(batch)[0])
                batch, chars = [], 0
        if batch:
            words += len(hash_words(batch)[0])
    return words


def bench_contamination(corpus: Path, items: pd.DataFrame, repeat: int) -> dict:
    shards = sorted(corpus.glob("*.jsonl"))
    load_before = os.getloadavg()
    runs = interleaved_cpu({"floor": lambda: floor_scan(shards),
                            "fourlens_floor": lambda: fourlens_floor(corpus),
                            "naive": lambda: naive_scan(shards, items["text"].tolist(), 13),
                            "ours_1": lambda: contamination(corpus, items, n=13, workers=1),
                            "ours_2": lambda: contamination(corpus, items, n=13, workers=2)}, repeat)
    (floor_s, _, n_words), (naive_s, _, naive) = runs["floor"], runs["naive"]
    (fl_floor_s, _, fl_words) = runs["fourlens_floor"]
    (ours_1_s, _, report), (ours_2_s, _, report_2) = runs["ours_1"], runs["ours_2"]
    cpu = {name: run[1] for name, run in runs.items()}
    assert fl_words == n_words, (fl_words, n_words)   # fourlens' word splitting is the regex's, word for word
    # the two scans agree on every item scored by n-grams (and one and two workers on everything)
    scored = report.items.reset_index(drop=True)
    mismatches = sum(1 for i, row in scored.iterrows() if row["method"] == "ngram"
                     and abs(row["overlap"] - naive.get(i, 0.0)) > 1e-9 and row["boilerplate_ngrams"] == 0)
    assert report.items.equals(report_2.items)
    mb = sum(p.stat().st_size for p in shards) / 1e6
    return {"corpus": corpus.name, "corpus_mb": mb, "shards": len(shards), "words": n_words,
            "eval_items": len(items), "n": 13,
            "floor_s": floor_s, "fourlens_floor_s": fl_floor_s, "naive_s": naive_s,
            "fourlens_1_worker_s": ours_1_s, "fourlens_2_workers_s": ours_2_s,
            "naive_over_floor": naive_s / floor_s, "naive_over_fourlens_floor": naive_s / fl_floor_s,
            "speedup_vs_naive_1_worker": naive_s / ours_1_s, "speedup_vs_naive_2_workers": naive_s / ours_2_s,
            "share_of_floor_1_worker": floor_s / ours_1_s, "share_of_floor_2_workers": floor_s / ours_2_s,
            "share_of_fourlens_floor_1_worker": fl_floor_s / ours_1_s,
            "cpu_s": cpu, "speedup_vs_naive_1_worker_cpu": cpu["naive"] / cpu["ours_1"],
            "share_of_fourlens_floor_1_worker_cpu": cpu["fourlens_floor"] / cpu["ours_1"],
            "naive_over_fourlens_floor_cpu": cpu["naive"] / cpu["fourlens_floor"],
            "items_disagreeing_with_naive": mismatches,
            "contaminated_items": int(report.items["contaminated"].sum()),
            "load_average_1min_before": load_before[0], "load_average_1min_after": os.getloadavg()[0]}


def bench_tokens(corpus: Path, docs: list[dict], repeat: int) -> dict:
    path = minilm_tokenizer_path()
    tokenizer = load_tokenizer(path)
    texts = [d["text"] for d in docs]

    def tokenizer_alone() -> int:
        total = 0
        for start in range(0, len(texts), 256):   # same batches as the profile
            total += sum(len(e.ids) for e in tokenizer.encode_batch(texts[start:start + 256]))
        return total

    runs = interleaved({"tokenizer": tokenizer_alone,
                        "ours": lambda: profile(corpus, tokenizer=path, domain_field="domain", workers=1)}, repeat)
    (tok_s, n_tokens), (ours_s, result) = runs["tokenizer"], runs["ours"]
    assert result.n_tokens == n_tokens, (result.n_tokens, n_tokens)
    return {"tokens": n_tokens, "tokenizer_encode_batch_s": tok_s, "fourlens_profile_s": ours_s,
            "tokenizer_tokens_per_s": n_tokens / tok_s, "fourlens_tokens_per_s": n_tokens / ours_s,
            "share_of_tokenizer_throughput": tok_s / ours_s}


def _shard_with_rss(shard, corpus, spec, rate):
    from fourlens.data.build_profile import profile_shard

    cpu = time.process_time()
    partial = profile_shard(shard, corpus, spec, rate)
    return partial, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - cpu


def bench_ray(corpus: Path, repeat: int) -> dict:
    import ray

    from fourlens.data.corpus import as_corpus
    from fourlens.data.engines import EngineConfig, map_shards

    spec = as_corpus(corpus, domain_field="domain")
    out = {}
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        map_shards(_shard_with_rss, spec.shards[:workers], (spec, "words", None), EngineConfig("ray"))  # warm
        seconds, results = best(lambda: map_shards(_shard_with_rss, spec.shards, (spec, "words", None),
                                                   EngineConfig("ray")), repeat)
        ray.shutdown()
        out[f"ray_{workers}_worker_s"] = seconds
        out[f"ray_{workers}_worker_peak_rss_mb"] = max(r[1] for r in results) / 1024
        # CPU seconds the tasks got, per second of wall time: 2.0 would be two busy cores
        out[f"ray_{workers}_worker_task_cpu_s"] = sum(r[2] for r in results)
        out[f"ray_{workers}_worker_cores_used"] = sum(r[2] for r in results) / seconds
    out["speedup_2_vs_1"] = out["ray_1_worker_s"] / out["ray_2_worker_s"]
    out["load_average_1min_after"] = os.getloadavg()[0]
    out["shards"] = len(spec.shards)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("FOURLENS_BENCH_CACHE", "/tmp/fl-bench")))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--only", choices=["contamination", "tokens", "ray"], action="append")
    parser.add_argument("--sizes", choices=["small", "large"], action="append",
                        help="contamination corpus sizes (default: both)")
    args = parser.parse_args()
    corpus = build(args.cache / "stdlib")
    docs = [json.loads(line) for p in sorted(corpus.glob("*.jsonl")) for line in p.read_text().splitlines()]
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    RESULTS.mkdir(exist_ok=True)
    items = eval_items(docs, args.items)
    sizes = {"small": lambda: corpus, "large": lambda: build_large(corpus, args.cache / "stdlib-large")}
    jobs = {"contamination": lambda: {"sizes": [bench_contamination(sizes[size](), items, args.repeat)
                                                for size in args.sizes or list(sizes)]},
            "tokens": lambda: bench_tokens(corpus, docs, args.repeat),
            "ray": lambda: bench_ray(corpus, args.repeat)}
    for name in args.only or list(jobs):
        result = {"benchmark": f"data_{name}", "machine": machine, **jobs[name]()}
        (RESULTS / f"data_{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
