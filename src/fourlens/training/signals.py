"""Canonical training signals and the tag names they go by in the wild (user-overridable).

`Run.signal("loss")` looks the canonical name up case-insensitively among the logged tags, then
tries the aliases below in order. Users put their own names first: `load_run(path, aliases={"loss":
("my/weird_loss",)})`, or `[options.training] aliases` in a bundle's fourlens.toml.

MoE per-expert loads are many tags, one per expert (and layer), so they are matched by regular
expressions with a named group `expert` (and, optionally, `layer`) under the key `moe_load`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

DEFAULT_ALIASES: Mapping[str, tuple[str, ...]] = {
    "loss": ("loss", "train/loss", "loss/train", "train_loss", "training_loss", "lm_loss", "train/lm_loss",
             "train/loss_step", "trainer/loss", "lm loss",
             # Keras' TensorBoard callback: train/ and validation/ folders, epoch_ and batch_ tags
             "train/epoch_loss", "epoch_loss", "train/batch_loss", "batch_loss",
             # wandb's Keras WandbMetricsLogger: epoch/* on epoch/epoch, batch/* on batch/batch_step
             "epoch/loss", "batch/loss"),
    "val_loss": ("val_loss", "val/loss", "loss/val", "eval/loss", "validation_loss", "valid/loss",
                 "validation/loss", "eval_loss", "val/lm_loss", "loss/validation", "val_loss_epoch",
                 "validation/epoch_loss", "val/epoch_loss", "eval/epoch_loss", "epoch_val_loss", "epoch/val_loss"),
    "grad_norm": ("grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "global_grad_norm",
                  "optimizer/grad_norm", "grad_norm/total", "train/gradient_norm", "grad norm"),
    "lr": ("lr", "learning_rate", "train/lr", "train/learning_rate", "optimizer/lr", "lr-adamw", "lr-adam",
           "learning-rate", "opt/lr", "train/epoch_learning_rate", "epoch_learning_rate", "train/epoch_lr",
           "epoch_lr", "epoch/learning_rate", "epoch/lr"),
    "tokens_per_sec": ("tokens_per_sec", "tokens/s", "throughput", "tok_per_sec", "train/tokens_per_sec",
                       "throughput/tokens_per_sec", "perf/tokens_per_sec", "tokens_per_second",
                       "throughput/tokens_per_second", "tps"),
    "step_time": ("step_time", "iter_time", "time/step", "elapsed_time_per_iteration", "train/step_time"),
    "mfu": ("mfu", "perf/mfu", "throughput/mfu", "train/mfu"),
    "loss_scale": ("loss_scale", "train/loss_scale", "scaler/scale", "grad_scaler/scale", "amp/loss_scale",
                   "optimizer/loss_scale", "loss-scale"),
    "moe_aux_loss": ("moe_aux_loss", "aux_loss", "load_balancing_loss", "moe/aux_loss", "router/aux_loss",
                     "train/aux_loss", "moe/load_balancing_loss", "train/load_balancing_loss"),
    "router_z_loss": ("router_z_loss", "z_loss", "moe/z_loss", "router/z_loss", "train/z_loss",
                      "moe/router_z_loss"),
    # regular expressions, matched against the whole tag (case-insensitive)
    "moe_load": (r"(?P<layer>.*?)[/_.-]?(?:expert[_-]?load|load[/_.-]?expert|expert[_-]?fraction|"
                 r"tokens[_-]?per[_-]?expert)[/_.-]?(?P<expert>\d+)",),
}


def merge_aliases(user: Mapping[str, tuple[str, ...] | list[str] | str] | None) -> dict[str, tuple[str, ...]]:
    """The defaults with the user's names put first (a bare string counts as one name)."""
    merged = dict(DEFAULT_ALIASES)
    for signal, names in (user or {}).items():
        names = (names,) if isinstance(names, str) else tuple(names)
        merged[signal] = names + tuple(n for n in merged.get(signal, ()) if n not in names)
    return merged


def expert_load_table(tags: list[str], series_of, patterns: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """{layer: DataFrame indexed by step, one column per expert index} from per-expert load tags.

    `series_of(tag)` returns one tag as a Series indexed by step (Run.tag_series)."""
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    layers: dict[str, dict[int, str]] = {}
    for tag in tags:
        for pattern in compiled:
            match = pattern.fullmatch(str(tag))
            if match:
                layer = (match.groupdict().get("layer") or "").strip("/_.-") or "all"
                layers.setdefault(layer, {})[int(match.group("expert"))] = str(tag)
                break
    return {layer: pd.concat({expert: series_of(experts[expert]) for expert in sorted(experts)}, axis=1)
            for layer, experts in layers.items()}
