"""The catalogue of finding kinds, and where each sits in the causal order.

A finding's `kind` is "<lens>.<category>". The catalogue below is what the built-in lenses produce;
plugins may add kinds of their own (any "<lens>.<lowercase_name>" is accepted), which rank as
`UNKNOWN_TIER`.

Tiers order kinds from upstream to downstream: what a team configures or feeds the model (eval
harness settings, tokenizer, data, learning-rate schedule) comes before what training does with it
(spikes, divergence), which comes before the state it leaves (final loss, weights) and what the model
then does (task scores, safety, agents). Triage uses the tier only to break ties between findings of
equal importance and to order two findings logged at the same step; links come from
`fourlens.triage.links`.
"""

from __future__ import annotations

CATALOGUE: dict[str, tuple[str, ...]] = {
    "training": ("nonfinite", "loss_spike", "grad_norm_spike", "grad_norm_growth", "divergence", "lr_schedule",
                 "loss_scale", "throughput", "straggler", "logit_growth", "plateau", "final_loss", "val_gap",
                 "moe_routing", "checkpoint_context"),
    "behavior": ("task_regression", "safety_regression", "eval_config", "latency", "output_length", "tool_loop",
                 "tool_latency", "tool_calls", "error_rate"),
    "data": ("domain_shift", "token_class_shift", "token_shift", "duplicates", "contamination", "tokenizer_change"),
    "representation": ("weights_nonfinite", "weights_structure", "weights_layer_outlier", "weights_norm",
                       "transformer_change", "tokenizer_change"),
}
KINDS: tuple[str, ...] = tuple(f"{lens}.{name}" for lens, names in CATALOGUE.items() for name in names)

# 0: configuration and inputs; 1: training dynamics, earliest-acting first; 2: the state a run leaves;
# 3: behavior. Within tier 1 the order is the usual direction of a chain when two signals move at the
# same logged step (an LR fault drives the gradient, the gradient the loss, the loss the NaN).
TIERS: dict[str, float] = {
    "behavior.eval_config": 0.0, "data.tokenizer_change": 0.0, "representation.tokenizer_change": 0.05,
    "data.domain_shift": 0.1, "data.token_class_shift": 0.15, "data.contamination": 0.15,
    "data.duplicates": 0.15, "data.token_shift": 0.2, "training.lr_schedule": 0.3,
    "training.straggler": 1.0, "training.throughput": 1.05, "training.moe_routing": 1.1,
    "training.logit_growth": 1.2, "training.grad_norm_growth": 1.25, "training.grad_norm_spike": 1.3,
    "training.loss_scale": 1.35, "training.loss_spike": 1.4, "training.nonfinite": 1.5,
    "training.plateau": 1.55, "training.divergence": 1.6,
    "training.val_gap": 2.0, "training.final_loss": 2.05, "training.checkpoint_context": 2.1,
    "representation.weights_nonfinite": 2.2, "representation.weights_structure": 2.2,
    "representation.weights_layer_outlier": 2.25, "representation.weights_norm": 2.3,
    "representation.transformer_change": 2.4,
    "behavior.error_rate": 3.0, "behavior.tool_loop": 3.0, "behavior.output_length": 3.05,
    "behavior.tool_calls": 3.1, "behavior.tool_latency": 3.1, "behavior.task_regression": 3.2,
    "behavior.safety_regression": 3.2, "behavior.latency": 3.3,
}
UNKNOWN_TIER = 2.5


def tier(kind: str) -> float:
    """Upstream (small) to downstream (large); kinds outside the catalogue sit in the middle."""
    return TIERS.get(kind, UNKNOWN_TIER)
