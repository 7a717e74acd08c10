"""A tiny attention-only decoder that forms induction heads on CPU in a few minutes.

Recipe (measured here): 2 layers x 4 heads, d_model 64, no LayerNorm and no MLPs, vocab
128, context 64, batch 64, AdamW at 3e-3 without weight decay, 2,500 steps (10M tokens). Every training
sequence is uniform random tokens with one span of random length (8-32) copied from a random offset to
a later random offset, so the only learnable structure beyond unigram statistics is "what followed
this token the last time it appeared" -- exactly the job of an induction head (Olsson et al. 2022,
"In-context learning and induction heads"). Random offsets matter: with a fixed offset a head that
attends to a fixed relative position would solve the task without being an induction head.

What happens (seed 0): the loss on the repeated span sits near ln(128) = 4.85, creeps to ~4.3 by step
1,400 (the model learns to favour tokens it has already seen), then drops abruptly to < 2 by step 1,700
as the layer-0 head and the layer-1 induction head form together. Seed 1 (same recipe) dropped from 4.2
at step 1,500 to 1.0 at step 1,900. The same recipe at 1e-3 with spans of
4-24 had not formed them after 4,000 steps; longer spans (more signal per batch) and the higher rate
are what make it form in a few CPU minutes.

Checkpoints are saved as safetensors along the way (`train(..., out_dir=...)`), so the representation
lens can be shown on a real training run. `cached_run()` trains once and reuses the files (under
$XDG_CACHE_HOME/fourlens/tinylm/<config hash>).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from fourlens._cache import user_cache_dir
from fourlens._io import write_atomic
from fourlens._progress import Bar
from fourlens._torch import torch_threads
from fourlens.errors import BadInputError
from fourlens.transformer.sources import ModelSource


@dataclass(frozen=True)
class TinyLMConfig:
    vocab_size: int = 128
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    context: int = 64

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if min(self.vocab_size, self.d_model, self.n_layers, self.n_heads, self.context) < 1:
            raise ValueError(f"every TinyLMConfig field must be positive; got {self}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class TinyLMOutput:
    """What `TinyLM.forward` returns, named like Hugging Face's outputs so the lens treats both alike."""

    logits: torch.Tensor                               # (batch, seq, vocab)
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (batch, heads, query, key)
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings, then after each layer (batch, seq, d)


class Attention(nn.Module):
    """Causal multi-head attention without biases. `head_output` (an identity) sees the per-head
    results (batch, seq, heads, d_head) before the output projection, so hooks can ablate or patch
    single heads."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = config.n_heads, config.d_head
        self.q = nn.Linear(config.d_model, config.d_model, bias=False)
        self.k = nn.Linear(config.d_model, config.d_model, bias=False)
        self.v = nn.Linear(config.d_model, config.d_model, bias=False)
        self.o = nn.Linear(config.d_model, config.d_model, bias=False)
        self.head_output = nn.Identity()
        mask = torch.ones(config.context, config.context, dtype=torch.bool).tril()
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, seq, _ = x.shape
        # (batch, seq, d_model) -> (batch, heads, seq, d_head)
        q, k, v = (proj(x).view(batch, seq, self.n_heads, self.d_head).transpose(1, 2)
                   for proj in (self.q, self.k, self.v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # (batch, heads, query, key)
        scores = scores.masked_fill(~self.causal_mask[:seq, :seq], float("-inf"))
        pattern = scores.softmax(dim=-1)
        z = (pattern @ v).transpose(1, 2)  # (batch, seq, heads, d_head)
        z = self.head_output(z)
        return self.o(z.reshape(batch, seq, -1)), pattern


class Block(nn.Module):
    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.attn = Attention(config)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, pattern = self.attn(x)
        return x + out, pattern


class TinyLM(nn.Module):
    """Attention-only decoder: token + learned position embeddings, residual attention blocks, an
    untied unembedding. No LayerNorm (the measured recipe; `final_norm` is an identity so the logit
    lens reads it like any model's final norm)."""

    def __init__(self, config: TinyLMConfig | None = None) -> None:
        super().__init__()
        self.config = config or TinyLMConfig()
        c = self.config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_embed = nn.Embedding(c.context, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.final_norm = nn.Identity()
        self.unembed = nn.Linear(c.d_model, c.vocab_size, bias=False)
        nn.init.normal_(self.embed.weight, std=0.1)
        nn.init.normal_(self.pos_embed.weight, std=0.1)

    # the accessors Hugging Face models have, so any tool (the transformer lens included) finds the tables
    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def get_output_embeddings(self) -> nn.Linear:
        return self.unembed

    def forward(self, input_ids: torch.Tensor, output_attentions: bool = False,
                output_hidden_states: bool = False, **_: object) -> TinyLMOutput:
        if input_ids.dim() != 2:
            raise BadInputError(f"TinyLM expects input_ids of shape (batch, seq); got {tuple(input_ids.shape)}")
        seq = input_ids.shape[1]
        if seq > self.config.context:
            raise BadInputError(f"TinyLM's context is {self.config.context} tokens; got {seq}. Shorten the input")
        positions = torch.arange(seq, device=input_ids.device)
        x = self.embed(input_ids) + self.pos_embed(positions)  # (batch, seq, d_model)
        hidden, patterns = [x], []
        for block in self.blocks:
            x, pattern = block(x)
            hidden.append(x)
            patterns.append(pattern)
        logits = self.unembed(self.final_norm(x))
        return TinyLMOutput(logits=logits, attentions=tuple(patterns) if output_attentions else None,
                            hidden_states=tuple(hidden) if output_hidden_states else None)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2500
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup: int = 100
    min_repeat: int = 8
    max_repeat: int = 32
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.min_repeat <= self.max_repeat:
            raise ValueError(f"need 1 <= min_repeat <= max_repeat; got {self.min_repeat}, {self.max_repeat}")
        if self.steps < 1 or self.checkpoint_every < 1:
            raise ValueError("steps and checkpoint_every must be positive")


def repeated_batch(batch: int, context: int, vocab: int, generator: torch.Generator, min_repeat: int = 4,
                   max_repeat: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens (batch, context) with one span copied from a random offset to a later random offset.

    Returns the tokens and a boolean mask (batch, context) of the positions whose next token is
    predictable from the first copy (the second copy, except its first token)."""
    if 2 * max_repeat > context:
        raise ValueError(f"max_repeat ({max_repeat}) must be at most half the context ({context})")
    tokens = torch.randint(vocab, (batch, context), generator=generator)
    lengths = torch.randint(min_repeat, max_repeat + 1, (batch,), generator=generator)
    predictable = torch.zeros(batch, context, dtype=torch.bool)
    u = torch.rand(batch, 2, generator=generator)
    for row in range(batch):  # a few dozen rows: a loop is clearer than index arithmetic
        length = int(lengths[row])
        first = int(u[row, 0] * (context - 2 * length + 1))
        second = first + length + int(u[row, 1] * (context - first - 2 * length + 1))
        tokens[row, second:second + length] = tokens[row, first:first + length]
        # the token at position p predicts p+1; within the copy, positions second..second+length-2
        predictable[row, second:second + length - 1] = True
    return tokens, predictable


def lm_losses(model: nn.Module, tokens: torch.Tensor, predictable: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean next-token loss over all positions, and over the predictable (repeated) positions."""
    logits = model(tokens).logits[:, :-1]  # (batch, seq-1, vocab)
    per_token = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                            reduction="none").view(tokens.shape[0], -1)
    mask = predictable[:, :-1]
    return per_token.mean(), per_token[mask].mean()


def make_model(config: TinyLMConfig, seed: int) -> TinyLM:
    with torch.random.fork_rng(devices=[]):  # seeding here leaves the global RNG as it was
        torch.manual_seed(seed)
        return TinyLM(config)


def train(config: TinyLMConfig | None = None, train_config: TrainConfig | None = None,
          out_dir: str | os.PathLike[str] | None = None,
          progress: Callable[[int, int], None] | None = None) -> tuple[TinyLM, list[dict]]:
    """Train a TinyLM; returns it and one log record per step (`loss`, `repeat_loss`, `lr`).

    With `out_dir`, writes `step-XXXXX.safetensors` every `checkpoint_every` steps (step 0 included,
    before any update), the final model, `config.json` and `log.jsonl`."""
    from safetensors.torch import save as safetensors_bytes

    config = config or TinyLMConfig()
    tc = train_config or TrainConfig()
    generator = torch.Generator().manual_seed(tc.seed)
    model = make_model(config, tc.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    out = Path(out_dir) if out_dir is not None else None

    def save(step: int) -> None:
        if out is not None:
            tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
            write_atomic(out / f"step-{step:05d}.safetensors", safetensors_bytes(tensors))

    log: list[dict] = []
    save(0)
    with torch_threads(1):  # the model is tiny: one thread beats several that wait on each other
        _train_loop(model, optimizer, tc, config, generator, log, save, progress)
    if out is not None:
        write_atomic(out / "config.json", json.dumps({"model": asdict(config), "train": asdict(tc)}, indent=2))
        write_atomic(out / "log.jsonl", "".join(json.dumps(r) + "\n" for r in log))
    return model, log


def _train_loop(model: TinyLM, optimizer: torch.optim.Optimizer, tc: TrainConfig, config: TinyLMConfig,
                generator: torch.Generator, log: list[dict], save: Callable[[int], None],
                progress: Callable[[int, int], None] | None) -> None:
    for step in range(1, tc.steps + 1):
        rate = tc.lr * min(1.0, step / tc.warmup)
        for group in optimizer.param_groups:
            group["lr"] = rate
        tokens, predictable = repeated_batch(tc.batch_size, config.context, config.vocab_size, generator,
                                             tc.min_repeat, tc.max_repeat)
        loss, repeat_loss = lm_losses(model, tokens, predictable)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        log.append({"step": step, "loss": float(loss.detach()), "repeat_loss": float(repeat_loss.detach()),
                    "lr": rate})
        if step % tc.checkpoint_every == 0 or step == tc.steps:
            save(step)
        if progress is not None:
            progress(step, tc.steps)


def load(path: str | os.PathLike[str], config: TinyLMConfig | None = None) -> TinyLM:
    """Load a TinyLM checkpoint written by `train` (safetensors; nothing is unpickled).

    The config is read from `config.json` beside the file when not given."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"TinyLM checkpoint {path} does not exist; train one with fourlens.demo.tinylm.train")
    if config is None:
        meta = path.parent / "config.json"
        config = TinyLMConfig(**json.loads(meta.read_text())["model"]) if meta.is_file() else TinyLMConfig()
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise BadInputError(f"{path}: not a readable safetensors file ({exc})") from None
    model = TinyLM(config)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = str(exc).strip().splitlines()[-1].strip()
        raise BadInputError(f"{path}: tensors do not fit a TinyLM with {config} ({detail})") from None
    if missing or unexpected:
        raise BadInputError(f"{path}: not a TinyLM checkpoint for {config} (missing {missing[:3]}, "
                            f"unexpected {unexpected[:3]})")
    return model.eval()


@dataclass(frozen=True)
class TinyLMRun:
    """A finished training run on disk: checkpoints by step, and the per-step log."""

    directory: Path
    steps: tuple[int, ...]

    def checkpoint(self, step: int) -> Path:
        if step not in self.steps:
            raise BadInputError(f"no checkpoint at step {step} in {self.directory}; have {list(self.steps)}")
        return self.directory / f"step-{step:05d}.safetensors"

    def model(self, step: int | None = None) -> TinyLM:
        return load(self.checkpoint(self.steps[-1] if step is None else step))

    def log(self) -> list[dict]:
        lines = (self.directory / "log.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line]


def cache_dir() -> Path:
    return user_cache_dir("tinylm")


def cached_run(config: TinyLMConfig | None = None, train_config: TrainConfig | None = None,
               directory: str | os.PathLike[str] | None = None, verbose: bool = False) -> TinyLMRun:
    """Train once and reuse: the run lives under `directory` (default: the user cache, keyed by a hash
    of both configs and the torch version) and is retrained only when its files are missing."""
    config = config or TinyLMConfig()
    tc = train_config or TrainConfig()
    key = json.dumps({"model": asdict(config), "train": asdict(tc), "torch": torch.__version__.split("+")[0],
                      "recipe": 1}, sort_keys=True)
    root = Path(directory) if directory is not None else cache_dir() / hashlib.sha256(key.encode()).hexdigest()[:16]
    steps = tuple(sorted({0, tc.steps, *range(tc.checkpoint_every, tc.steps + 1, tc.checkpoint_every)}))
    done = root / "log.jsonl"
    if not done.is_file() or not all((root / f"step-{s:05d}.safetensors").is_file() for s in steps):
        started = time.perf_counter()
        with Bar(tc.steps, "training TinyLM", progress=verbose) as bar:
            # train() reports the absolute step; the bar counts increments
            train(config, tc, out_dir=root, progress=lambda step, _total: bar.advance(step - bar.done))
        if verbose:
            print(f"trained TinyLM in {time.perf_counter() - started:.0f}s -> {root}")
    return TinyLMRun(directory=root, steps=steps)


class AsciiTokenizer:
    """The TinyLM's tokenizer: one token per ASCII character (vocab 128), with the small slice of the
    Hugging Face tokenizer interface the transformer lens uses (`__call__`, `convert_ids_to_tokens`,
    `decode`). The model was trained on random tokens, so any text is "random" to it; repeats in the
    text are what its induction heads pick up."""

    vocab_size = 128
    all_special_ids: list[int] = []
    pad_token_id = 0

    def encode(self, text: str) -> list[int]:
        bad = sorted({c for c in text if ord(c) >= self.vocab_size})
        if bad:
            raise BadInputError(f"the TinyLM tokenizer reads ASCII only; the text has {''.join(bad[:5])!r}")
        return [ord(c) for c in text]

    def __call__(self, texts: str | list[str], padding: bool = True, return_tensors: str | None = "pt",
                 **_: object) -> dict[str, torch.Tensor]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = [self.encode(t) for t in texts]
        width = max((len(i) for i in ids), default=0)
        input_ids = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            attention_mask[row, :len(seq)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def convert_ids_to_tokens(self, ids: list[int] | torch.Tensor) -> list[str]:
        return [chr(int(i)) for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids)]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        return "".join(self.convert_ids_to_tokens(ids))


def _is_tinylm_spec(spec: str) -> bool:
    """`tinylm`, `tinylm:STEP`, a checkpoint written by `train` (config.json beside it with its "model" and
    "train" sections), or a directory of such checkpoints."""
    if spec == "tinylm" or spec.startswith("tinylm:"):
        return True
    path = Path(spec).expanduser()
    folder = path if path.is_dir() else path.parent
    if path.is_file() and not path.name.endswith(".safetensors"):
        return False
    try:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "model" in meta and "train" in meta and (
        path.is_file() or any(folder.glob("step-*.safetensors")))


def _load_spec(spec: str) -> tuple[TinyLM, AsciiTokenizer]:
    if spec == "tinylm" or spec.startswith("tinylm:"):
        step = spec.partition(":")[2]
        if step and not step.isdigit():
            raise BadInputError(f"tinylm:STEP needs a step number; got {spec!r}")
        return cached_run(verbose=True).model(int(step) if step else None), AsciiTokenizer()
    path = Path(spec).expanduser()
    if path.is_dir():
        steps = _run_spec(spec)[0]
        return steps[-1][1](), AsciiTokenizer()
    return load(path), AsciiTokenizer()


def _run_spec(spec: str) -> tuple[list[tuple[int, Callable[[], TinyLM]]], AsciiTokenizer]:
    import re

    if spec == "tinylm":
        run = cached_run(verbose=True)
        return [(step, lambda step=step: run.model(step)) for step in run.steps], AsciiTokenizer()
    folder = Path(spec).expanduser()
    files = sorted(folder.glob("step-*.safetensors")) if folder.is_dir() else []
    steps = [(int(m.group(1)), f) for f in files if (m := re.fullmatch(r"step-(\d+)\.safetensors", f.name))]
    if not steps:
        raise BadInputError(f"{spec!r} is not 'tinylm' or a directory of step-XXXXX.safetensors checkpoints "
                            "written by fourlens.demo.tinylm.train")
    return [(step, lambda path=path: load(path)) for step, path in sorted(steps)], AsciiTokenizer()


# what the `fourlens` command registers with the transformer lens (fourlens.transformer.sources)
MODEL_SOURCE = ModelSource("tinylm", _is_tinylm_spec, _load_spec, _run_spec,
                           help="tinylm[:STEP], a TinyLM .safetensors file or a run directory")
