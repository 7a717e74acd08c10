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
                 "validation/epoch_loss", "val/epoch_loss", "eval/epoch_loss", "epoch_val_loss", "epoch/val_loss",
                 "lm loss validation"),
    "grad_norm": ("grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "global_grad_norm",
                  "optimizer/grad_norm", "grad_norm/total", "train/gradient_norm", "grad norm"),
    "lr": ("lr", "learning_rate", "train/lr", "train/learning_rate", "optimizer/lr", "lr-adamw", "lr-adam",
           "learning-rate", "opt/lr", "train/epoch_learning_rate", "epoch_learning_rate", "train/epoch_lr",
           "epoch_lr", "epoch/learning_rate", "epoch/lr"),
    "tokens_per_sec": ("tokens_per_sec", "tokens/s", "throughput", "tok_per_sec", "train/tokens_per_sec",
                       "throughput/tokens_per_sec", "perf/tokens_per_sec", "tokens_per_second",
                       "throughput/tokens_per_second", "tps"),
    "step_time": ("step_time", "iter_time", "time/step", "elapsed_time_per_iteration", "train/step_time",
                  "iteration-time", "perf/step_time", "time/iteration", "step_time_s"),
    "mfu": ("mfu", "perf/mfu", "throughput/mfu", "train/mfu"),
    "loss_scale": ("loss_scale", "train/loss_scale", "scaler/scale", "grad_scaler/scale", "amp/loss_scale",
                   "optimizer/loss_scale", "loss-scale"),
    "overflows": ("overflows", "overflow", "num_overflows", "skipped_steps", "skipped_iters", "train/skipped_iters",
                  "optimizer/overflow", "amp/overflows", "grad_overflow", "num_skipped_steps"),
    "attn_logit_max": ("attn_logit_max", "max_attn_logit", "attention/max_logit", "attn/max_logit",
                       "max_attention_logit", "train/max_attn_logit", "attn_logits/max", "qk_logit_max"),
    "output_logit_max": ("output_logit_max", "max_output_logit", "logits/max", "output_logits/max",
                         "lm_head/max_logit", "train/max_logit", "train/max_output_logit", "logits/output_max",
                         "output_logit/max"),
    "lm_z_loss": ("lm_z_loss", "z_loss", "train/z_loss", "output_z_loss", "logit_z_loss", "train/lm_z_loss",
                  "z_loss/lm", "loss/z_loss"),
    "moe_aux_loss": ("moe_aux_loss", "aux_loss", "load_balancing_loss", "moe/aux_loss", "router/aux_loss",
                     "train/aux_loss", "moe/load_balancing_loss", "train/load_balancing_loss"),
    # a bare "z_loss" is PaLM's output-logit z-loss (lm_z_loss); the router's is named so
    "router_z_loss": ("router_z_loss", "moe/z_loss", "router/z_loss", "moe/router_z_loss", "train/router_z_loss"),
    # regular expressions, matched against the whole tag (case-insensitive)
    "moe_load": (r"(?P<layer>.*?)[/_.-]?(?:expert[_-]?load|load[/_.-]?expert|expert[_-]?fraction|"
                 r"tokens[_-]?per[_-]?expert)[/_.-]?(?P<expert>\d+)",),
}


def _spelling(name: str) -> str:
    """A tag's spelling without case and word separators: "train/ZLoss" and "train/z_loss" agree."""
    return re.sub(r"[^a-z0-9/]", "", name.lower())


def match_tag(tags: list[str], names: tuple[str, ...]) -> str | None:
    """The first of `names` that a tag spells the same way up to case and `_`, `-`, `.`, spaces."""
    by_spelling: dict[str, str] = {}
    for tag in tags:
        by_spelling.setdefault(_spelling(str(tag)), str(tag))
    for name in names:
        if _spelling(name) in by_spelling:
            return by_spelling[_spelling(name)]
    return None


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
