"""Write a simulated run as the logs a real trainer leaves: TensorBoard event files (through
`torch.utils.tensorboard.SummaryWriter`), Lightning's CSVLogger `metrics.csv`, or JSONL records.

Each STYLE names signals the way one family of trainers does (HF Trainer, Megatron-LM, torchtitan,
Lightning, nanoGPT-like scripts, custom loops) and says which signals it logs at all; a scenario picks
a style that logs what its planted cause needs. Where a trainer's names are not the common ones, the
bundle gets the fourlens.toml a user would write for them (`manifest_aliases`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Style:
    name: str
    formats: tuple[str, ...]            # tfevents | csv | jsonl
    tags: dict[str, str]                # canonical signal -> tag
    mean_loss: bool                     # loss averaged over the logging interval (HF) or the last step
    rank_tag: str = ""                  # e.g. "perf/rank{r}/step_time"
    moe_tag: str = ""                   # e.g. "moe/layer_{l}/expert_load/{e}"
    aliases: tuple[tuple[str, str], ...] = ()   # (signal, tag) a user must declare in fourlens.toml
    step_key: str = "step"

    def logs(self, signal: str) -> bool:
        if signal == "ranks":
            return bool(self.rank_tag)
        if signal == "moe":
            return bool(self.moe_tag)
        return signal in self.tags


STYLES: tuple[Style, ...] = (
    Style("hf_trainer", ("tfevents",), {"loss": "train/loss", "grad_norm": "train/grad_norm",
                                        "lr": "train/learning_rate", "val_loss": "eval/loss"}, mean_loss=True),
    Style("megatron", ("tfevents",), {"loss": "lm loss", "lr": "learning-rate", "grad_norm": "grad-norm",
                                      "loss_scale": "loss-scale", "step_time": "iteration-time",
                                      "val_loss": "lm loss validation"}, mean_loss=True),
    Style("torchtitan", ("tfevents",), {"loss": "loss_metrics/global_avg_loss", "grad_norm": "grad_norm",
                                        "lr": "lr", "tokens_per_sec": "throughput(tps)", "mfu": "mfu(%)"},
          mean_loss=False, moe_tag="moe/layer_{l}/tokens_per_expert/{e}",
          aliases=(("loss", "loss_metrics/global_avg_loss"), ("tokens_per_sec", "throughput(tps)"))),
    Style("lightning", ("csv",), {"loss": "train_loss", "lr": "lr-AdamW", "grad_norm": "grad_2.0_norm_total",
                                  "val_loss": "val_loss"}, mean_loss=False,
          aliases=(("grad_norm", "grad_2.0_norm_total"),)),
    Style("minimal", ("tfevents", "jsonl"), {"loss": "loss", "lr": "lr", "grad_norm": "grad_norm",
                                             "tokens_per_sec": "tokens_per_sec", "mfu": "mfu", "val_loss": "val/loss"},
          mean_loss=False, step_key="iter"),
    Style("custom", ("tfevents", "jsonl", "csv"),
          {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm",
           "tokens_per_sec": "perf/tokens_per_sec", "step_time": "perf/step_time", "val_loss": "val/loss",
           "loss_scale": "train/loss_scale", "skipped": "train/skipped_steps",
           "attn_logit": "train/max_attn_logit", "output_logit": "train/max_output_logit", "z_loss": "train/ZLoss",
           "moe_aux_loss": "moe/aux_loss"},
          mean_loss=False, rank_tag="perf/rank{r}/step_time", moe_tag="moe/layer_{l}/expert_load/{e}",
          step_key="global_step"),
    Style("custom_alt", ("tfevents", "jsonl"),
          {"loss": "loss/train", "lr": "optimizer/lr", "grad_norm": "optimizer/grad_norm",
           "tokens_per_sec": "throughput/tokens_per_second", "step_time": "time/step", "val_loss": "loss/val",
           "loss_scale": "amp/loss_scale", "attn_logit": "attn/max_logit", "output_logit": "logits/output_max",
           "z_loss": "z_loss", "moe_aux_loss": "router/aux_loss"},
          mean_loss=True, rank_tag="step_time/rank_{r}", moe_tag="router/layer{l}/expert_fraction_{e}",
          step_key="step"),
)


def style_for(needs: set[str], rng: np.random.Generator) -> Style:
    """A style that logs every signal in `needs` (always loss), chosen at random."""
    fits = [s for s in STYLES if all(s.logs(n) for n in needs | {"loss"})]
    return fits[int(rng.integers(len(fits)))]


def series(sig: dict[str, np.ndarray], style: Style, log_every: int, val_every: int) -> dict[str, tuple]:
    """{tag: (steps, values)} as the style logs them."""
    steps = sig["step"]
    n = steps.size
    idx = np.arange(log_every - 1, n, log_every)
    out: dict[str, tuple] = {}

    def put(tag: str, values: np.ndarray, at: np.ndarray = idx) -> None:
        out[tag] = (steps[at], values[at])

    for signal, tag in style.tags.items():
        if signal == "loss":
            if style.mean_loss:  # HF/Megatron log the mean over the interval (a NaN inside makes it NaN)
                usable = idx[idx + 1 >= log_every]
                means = np.array([sig["loss"][i + 1 - log_every:i + 1].mean() for i in usable])
                out[tag] = (steps[usable], means)
            else:
                put(tag, sig["loss"])
        elif signal == "val_loss":
            at = np.arange(val_every - 1, n, val_every)
            if at.size:
                put(tag, sig["val_loss"], at)
        elif signal == "skipped":
            if "overflow" in sig:
                put(tag, np.cumsum(sig["overflow"]))
        elif signal in sig:
            put(tag, sig[signal] * (100.0 if tag.endswith("(%)") else 1.0))
    if style.rank_tag:
        for name in [k for k in sig if k.startswith("rank_step_time/")]:
            put(style.rank_tag.format(r=name.rsplit("/", 1)[1]), sig[name])
    if style.moe_tag:
        for name in [k for k in sig if k.startswith("moe/")]:
            _, layer, expert = name.split("/")
            put(style.moe_tag.format(l=layer, e=expert), sig[name])
    return out


def write_logs(root: Path, tagged: dict[str, tuple], style: Style, fmt: str, run_name: str) -> list[Path]:
    """Write the tagged series under `root` in `fmt`; returns the files written."""
    if fmt == "tfevents":
        return [_tfevents(root / run_name, tagged)]
    rows = _rows(tagged, style.step_key)
    if fmt == "csv":
        if style.name == "lightning":  # CSVLogger: version_N/metrics.csv beside hparams.yaml
            folder = root / "lightning_logs" / "version_0"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hparams.yaml").write_text("lr: 0.0003\nbatch_size: 32\nmax_steps: 5000\n", encoding="utf-8")
            return [_csv(folder / "metrics.csv", rows, style.step_key)]
        return [_csv(root / "metrics.csv", rows, style.step_key)]
    return [_jsonl(root / f"{run_name}.jsonl", rows)]


def _rows(tagged: dict[str, tuple], step_key: str) -> list[dict]:
    by_step: dict[int, dict] = {}
    for tag, (steps, values) in tagged.items():
        for step, value in zip(steps.tolist(), values.tolist(), strict=True):
            by_step.setdefault(int(step), {step_key: int(step)})[tag] = value
    return [by_step[s] for s in sorted(by_step)]


def _tfevents(folder: Path, tagged: dict[str, tuple]) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    folder.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(log_dir=str(folder), max_queue=1000, flush_secs=3600)
    try:
        for tag, (steps, values) in tagged.items():
            for step, value in zip(steps.tolist(), values.tolist(), strict=True):
                writer.add_scalar(tag, value, global_step=int(step))
    finally:
        writer.close()
    return folder


def _csv(path: Path, rows: list[dict], step_key: str) -> Path:
    columns = sorted({key for row in rows for key in row} - {step_key})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([step_key, *columns])
        for row in rows:  # CSVLogger leaves a cell empty when a metric was not logged at that step
            writer.writerow([row[step_key], *[_cell(row.get(c)) for c in columns]])
    return path


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return "nan" if value != value else repr(float(value))


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:  # Python's json writes NaN / Infinity for non-finite floats, as most loggers do
            handle.write(json.dumps(row) + "\n")
    return path


def manifest_aliases(style: Style) -> str:
    """The [options.training.aliases] table a user of this trainer writes, or "" when none is needed."""
    if not style.aliases:
        return ""
    lines = ["[options.training.aliases]"]
    lines += [f'{signal} = ["{tag}"]' for signal, tag in style.aliases]
    return "\n".join(lines) + "\n"
