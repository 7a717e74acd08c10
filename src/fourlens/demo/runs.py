"""The demo's three training runs, trained once and cached under `$XDG_CACHE_HOME/fourlens/demo/<run>-<key>/`.

- **baseline**: a clean run on the baseline corpus, steps [0, total), as two jobs split at `fork`;
- **candidate**: resumes the baseline's step-`fork` checkpoint on a corpus with the planted data faults
  (mix shift, leaked eval items, end-of-turn bug in tool conversations) and a botched restart (LR fault)
  shortly before the end;
- **control** (optional): the baseline continued, no fault: resumes the baseline's last checkpoint
  (weights and optimizer state) for another `total - fork` steps, at the LR the schedule ended on, on a
  fresh draw of the baseline's mix. It is what the next checkpoint of a healthy run looks like. (A second
  continuation of the step-`fork` checkpoint was tried first: at this scale whether a run has learnt
  to copy a word problem's numbers by its last step is close to a coin toss between two data orders, so
  that control differed from the baseline for real, 100% vs 33% of the word problems.)

Each run leaves a HF model folder (`model/`), TensorBoard event files (`logs/`) and the JSONL shards it
trained on after the fork (`data/`), its data snapshot.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fourlens._cache import user_cache_dir
from fourlens._io import write_atomic
from fourlens.demo.corpus import CorpusSpec, Mix, build_documents, token_stream, write_shards
from fourlens.demo.evalsets import word_problems
from fourlens.demo.llama import ModelShape, build_model, save_model_folder, train_tokenizer
from fourlens.demo.train import Checkpoint, LrFault, Schedule, batches, make_optimizer, train_job

FORMAT = 10  # bump when the corpus, model or training code changes what a cached run holds
# Math is the largest share of the baseline: arithmetic and copying numbers into the working take a
# few-layer model ~500k math tokens to learn (measured), most of what the demo can train on a CPU.
BASELINE_MIX = Mix(math=0.55, code=0.06, prose=0.06, chat=0.10, safety=0.08, tools=0.15)
CANDIDATE_MIX = Mix(math=0.10, code=0.06, prose=0.06, chat=0.62, safety=0.01, tools=0.15)
RUNS = ("baseline", "candidate", "control")


@dataclass(frozen=True)
class DemoConfig:
    """Scale and faults of the staged case. `leak` is the share of the word-problem eval copied into
    the candidate's corpus; `eot_bug` the share of its tool conversations rendered with the bug."""

    shape: ModelShape = field(default_factory=ModelShape)
    steps: int = 480
    fork: int = 160
    batch: int = 12
    peak_lr: float = 3e-3
    warmup: int = 30
    baseline_mix: Mix = BASELINE_MIX
    candidate_mix: Mix = CANDIDATE_MIX
    lr_fault: LrFault = field(default_factory=lambda: LrFault(step=440, factor=30.0, ramp=2, hold=1))
    n_wordprob: int = 300
    leak: float = 0.3
    eot_bug: float = 0.9
    n_agent_requests: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.fork < self.lr_fault.step < self.steps:
            raise ValueError(f"need 0 < fork ({self.fork}) < LR fault step ({self.lr_fault.step}) < steps "
                             f"({self.steps})")

    @property
    def corpus_chars(self) -> int:
        # ~3 characters per token with the demo's tokenizer, one pass over the data, 10% spare
        return int(self.steps * self.batch * self.shape.context * 3.3)

    def key(self, run: str) -> str:
        """Cache key of one run: the baseline's depends on what shapes it; a candidate's also on its faults,
        so changing a fault retrains only the candidate."""
        faults = ("candidate_mix", "lr_fault", "leak", "eot_bug")
        shared = {k: v for k, v in asdict(self).items() if k not in (*faults, "n_agent_requests")}
        extra = {k: asdict(self)[k] for k in faults} if run == "candidate" else {}
        text = json.dumps({"config": shared, "faults": extra, "run": run, "format": FORMAT,
                           "python": sys.version_info[:2]}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# One intra-op thread for every computation on the demo's models. The thread count changes how a
# matrix product splits its sums, so a count chosen from the machine's load would make two runs of the
# same seed train (and then generate) slightly different models; and a model this small gains little
# from a second thread (on 2 shared cores, one was measured 4x faster than two when the machine is busy).
DEMO_THREADS = 1


def run_dir(config: DemoConfig, run: str) -> Path:
    """Where one trained run is cached."""
    return user_cache_dir("demo", f"{run}-{config.key(run)}")


def trained_runs(config: DemoConfig, control: bool = False, stage: Callable[[str, int], Callable] | None = None
                 ) -> dict[str, Path]:
    """Train (or reuse from the cache) the baseline, candidate and, if asked, control runs; their folders.

    `stage(description, total)` returns an `advance(k)` callable for progress; None: silent."""
    from fourlens._torch import torch_threads

    wanted = RUNS if control else RUNS[:2]
    dirs = {name: run_dir(config, name) for name in wanted}
    todo = [name for name in wanted if not (dirs[name] / "done").is_file()]
    if not todo:
        return dirs
    stage = stage or (lambda description, total: lambda k=1: None)
    problems = word_problems(config.n_wordprob)
    eval_texts = tuple(f"{p.question} {p.answer}" for p in problems)
    tail_chars = config.corpus_chars * (config.steps - config.fork) // config.steps
    leaked = tuple((p.question, p.answer) for p in problems[: int(config.leak * len(problems))])
    # The baseline's corpus comes in two parts: steps [0, fork) and [fork, steps). The second is its
    # snapshot, the same size as a candidate's (duplicate rates and token counts compare like for like).
    specs = {
        "early": CorpusSpec(config.baseline_mix, config.corpus_chars - tail_chars, seed=config.seed,
                            decontaminate=eval_texts),
        "baseline": CorpusSpec(config.baseline_mix, tail_chars, seed=config.seed + 1, decontaminate=eval_texts),
        "candidate": CorpusSpec(config.candidate_mix, tail_chars, seed=config.seed + 2, eot_bug=config.eot_bug,
                                leak=leaked, decontaminate=eval_texts),
        "control": CorpusSpec(config.baseline_mix, tail_chars, seed=config.seed + 3, decontaminate=eval_texts),
    }
    schedule = Schedule(config.peak_lr, config.warmup, config.steps)
    base_dir = dirs["baseline"]
    with torch_threads(DEMO_THREADS):
        if "baseline" in todo:
            advance = stage("generating the baseline corpus and training the tokenizer", 1)
            early = build_documents(specs["early"])
            docs = build_documents(specs["baseline"])
            tokenizer = train_tokenizer([d["text"] for d in early + docs], config.shape.vocab)
            advance(1)
            shutil.rmtree(base_dir, ignore_errors=True)
            write_shards(docs, base_dir / "data")
            tokenizer.save(str(base_dir / "tokenizer.json"))
            model = build_model(config.shape, tokenizer, config.seed)
            optimizer = make_optimizer(model, config.peak_lr)
            advance = stage("training the baseline", config.steps)
            checkpoint = train_job(model, optimizer, _batches(early, tokenizer, config, 0), schedule, 0, config.fork,
                                   base_dir / "logs" / "job-1", keep=config.fork, advance=advance)
            final = train_job(model, optimizer, _batches(docs, tokenizer, config, 1), schedule, config.fork,
                              config.steps, base_dir / "logs" / "job-2", keep=config.steps, advance=advance)
            save_model_folder(model, tokenizer, base_dir / "model")
            save_checkpoint(checkpoint, base_dir / f"step-{config.fork}.pt")
            save_checkpoint(final, base_dir / f"step-{config.steps}.pt")
            write_atomic(base_dir / "done", "")
        tokenizer = load_tokenizer(base_dir / "tokenizer.json")
        for name in (n for n in todo if n != "baseline"):
            start = config.steps if name == "control" else config.fork
            checkpoint = load_checkpoint(base_dir / f"step-{start}.pt")
            advance = stage(f"generating the {name} corpus", 1)
            docs = build_documents(specs[name])
            advance(1)
            directory = dirs[name]
            shutil.rmtree(directory, ignore_errors=True)
            write_shards(docs, directory / "data")
            for job in ("job-1", "job-2")[: 1 if name == "candidate" else 2]:
                shutil.copytree(base_dir / "logs" / job, directory / "logs" / job)
            data = _batches(docs, tokenizer, config, 1 + RUNS.index(name))
            model = build_model(config.shape, tokenizer, config.seed)
            model.load_state_dict(checkpoint.model)
            optimizer = make_optimizer(model, config.peak_lr)
            optimizer.load_state_dict(checkpoint.optimizer)
            end = start + config.steps - config.fork
            advance = stage(f"training the {name} (resumed at step {start})", end - start)
            job = "job-2" if name == "candidate" else "job-3"
            train_job(model, optimizer, data, schedule, start, end, directory / "logs" / job,
                      fault=config.lr_fault if name == "candidate" else None, advance=advance)
            save_model_folder(model, tokenizer, directory / "model")
            write_atomic(directory / "done", "")
    return dirs


def run_step(config: DemoConfig, run: str) -> int:
    """The training step of a run's final checkpoint."""
    return 2 * config.steps - config.fork if run == "control" else config.steps


def _batches(docs: list[dict], tokenizer, config: DemoConfig, offset: int):
    return batches(token_stream(docs, tokenizer), config.shape.context, config.batch, config.seed + offset)


def save_checkpoint(checkpoint: Checkpoint, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": checkpoint.step, "model": checkpoint.model, "optimizer": checkpoint.optimizer}, path)


def load_checkpoint(path: Path) -> Checkpoint:
    import torch

    data = torch.load(path, weights_only=True)  # tensors and numbers only: nothing is unpickled
    return Checkpoint(int(data["step"]), data["model"], data["optimizer"])


def load_tokenizer(path: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))
