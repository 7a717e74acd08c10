"""`compare_checkpoints`: how two checkpoints of one architecture differ inside, layer by layer.

Reads both models on the same probe texts and the same repeated random sequences:
- linear CKA per layer between the two checkpoints' hidden states (all real tokens of the probe texts);
- attention-entropy shift per head (candidate minus baseline, nats);
- head-score changes (previous-token, induction, duplicate-token per head): which induction heads
  weakened;
- activation statistics per layer: mean residual norm (norm growth), the ratio of the largest
  activation to the median magnitude ("massive activations", Sun et al. 2024), and the fraction of MLP
  units that never activate on the probe (dead units) where the architecture names its MLP activations.

`findings()` turns the changes into representation-lens findings; severity and confidence rules are in
`fourlens.transformer.findings`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._patterns import attention_patterns
from fourlens.transformer._residual import residual_names, residual_stream
from fourlens.transformer._run import device_of, encode, hooks, inspecting, model_inputs
from fourlens.transformer.cka import linear_cka
from fourlens.transformer.findings import comparison_findings
from fourlens.transformer.head_scores import default_probe, per_sequence_scores


@dataclass(frozen=True)
class LayerActivations:
    hidden: list[torch.Tensor]          # per residual point: (tokens, d_model), real tokens only
    entropy: torch.Tensor               # (texts, layers, heads)
    mlp_max: list[torch.Tensor]         # per MLP activation module: (units,) max over tokens


@dataclass(frozen=True)
class CheckpointComparison:
    """`layers`: one row per residual point (`layer` = "embeddings", then block names) with `cka`,
    `norm_a`, `norm_b`, `massive_a`, `massive_b`, `dead_a`, `dead_b` (NaN without MLPs).
    `heads`: one row per head with `entropy_a/_b/_shift` and `<score>_a/_b/_change` for
    previous_token, induction, duplicate_token. The per-text/per-sequence arrays behind the tests are
    kept for the findings' statistics."""

    layers: pd.DataFrame
    heads: pd.DataFrame
    samples: dict[str, Any]

    def findings(self) -> list:
        return comparison_findings(self)

    def _repr_html_(self) -> str:
        findings = "".join(f"<li>{html.escape(f.title)} (score {f.score:.2f})</li>" for f in self.findings())
        return (self.layers.to_html(index=False, float_format="%.3f") + (f"<ul>{findings}</ul>" if findings else "")
                + self.heads.to_html(index=False, float_format="%.3f"))

    def to_dict(self) -> dict[str, Any]:
        return {"layers": self.layers.to_dict(orient="records"), "heads": self.heads.to_dict(orient="records"),
                "findings": [f.to_dict() for f in self.findings()]}


def _collect(model: nn.Module, arch: Architecture, encoded: Any, mlp: Sequence[tuple[str, str]]
             ) -> LayerActivations:
    real = encoded.attention_mask.bool()
    maxima: dict[int, torch.Tensor] = {}

    def keep_max(i: int, where: str):
        def hook(_m: nn.Module, args: Any, out: Any = None) -> None:
            units = out if where == "output" else args[0]
            units = units.reshape(*real.shape, -1)  # OPT runs its MLP on (batch * seq, width)
            maxima[i] = units[real].amax(0).detach().float()  # (units,)
        return hook

    registrations = [(arch.module(model, n), "forward" if where == "output" else "pre", keep_max(i, where))
                     for i, (n, where) in enumerate(mlp)]
    with inspecting(model), hooks(registrations):
        stream, _ = residual_stream(model, arch, model_inputs(encoded))
        patterns, _ = attention_patterns(model, model_inputs(encoded), arch)
    hidden = [h[real].float() for h in stream]  # (tokens, d_model)
    entropy = []
    for index in range(real.shape[0]):
        n = int(real[index].sum())
        w = torch.stack([p[index, :, :n, :n] for p in patterns]).float()  # (layers, heads, q, k)
        entropy.append(-(w * w.clamp_min(1e-30).log()).sum(-1).mean(-1))
    return LayerActivations(hidden, torch.stack(entropy).float(), [maxima[i] for i in range(len(mlp))])


def _massive(h: torch.Tensor) -> float:
    magnitude = h.abs().flatten()
    return float(magnitude.max() / magnitude.median().clamp_min(1e-12))


def compare_checkpoints(model_a: nn.Module, model_b: nn.Module, tokenizer: Any, probe_texts: Sequence[str],
                        n_sequences: int = 64, seed: int = 0, arch: Architecture | None = None
                        ) -> CheckpointComparison:
    """Compare a baseline (`model_a`) and a candidate (`model_b`) of the same architecture."""
    arch_a, arch_b = architecture(model_a, arch), architecture(model_b, arch)
    if (arch_a.n_layers, arch_a.n_heads) != (arch_b.n_layers, arch_b.n_heads):
        raise BadInputError(f"the checkpoints differ in shape ({arch_a.n_layers}x{arch_a.n_heads} vs "
                            f"{arch_b.n_layers}x{arch_b.n_heads} layers x heads); compare_checkpoints needs one "
                            "architecture")
    texts = [probe_texts] if isinstance(probe_texts, str) else list(probe_texts)
    if len(texts) < 2:
        raise BadInputError("compare_checkpoints needs at least 2 probe texts (the statistics resample them)")
    enc_a = encode(tokenizer, texts, device_of(model_a), max_tokens=512)
    enc_b = encode(tokenizer, texts, device_of(model_b), max_tokens=512)
    mlp = arch_a.mlp_units()
    acts_a, acts_b = _collect(model_a, arch_a, enc_a, mlp), _collect(model_b, arch_b, enc_b, mlp)

    probe = default_probe(model_a, tokenizer, n_sequences=n_sequences, seed=seed)
    seq_a = per_sequence_scores(model_a, probe, arch=arch)  # (sequences, layers, heads, 4)
    seq_b = per_sequence_scores(model_b, probe, arch=arch)

    token_text = torch.cat([torch.full((int(m.sum()),), i) for i, m in enumerate(enc_a.attention_mask.cpu())])
    names = residual_names(arch_a)
    rows = []
    for i, name in enumerate(names):
        ha, hb = acts_a.hidden[i].cpu(), acts_b.hidden[i].cpu()
        row = {"layer": name, "cka": linear_cka(ha, hb), "norm_a": float(ha.norm(dim=-1).mean()),
               "norm_b": float(hb.norm(dim=-1).mean()), "massive_a": _massive(ha), "massive_b": _massive(hb),
               "dead_a": float("nan"), "dead_b": float("nan")}
        rows.append(row)
    mlp_width: dict[int, int] = {}
    mlp_max: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # per block: each unit's max on the probe
    for j, (name, _) in enumerate(mlp):
        # attach an MLP's dead fraction (never positive on the probe) to the block that contains it
        owner = next((i for i, r in enumerate(rows) if name.startswith(r["layer"] + ".")), None)
        if owner is not None:
            rows[owner]["dead_a"] = float((acts_a.mlp_max[j] <= 0).float().mean())
            rows[owner]["dead_b"] = float((acts_b.mlp_max[j] <= 0).float().mean())
            mlp_width[owner] = int(acts_a.mlp_max[j].numel())
            mlp_max[owner] = (acts_a.mlp_max[j].cpu(), acts_b.mlp_max[j].cpu())
    head_rows = []
    mean_a, mean_b = seq_a.mean(0), seq_b.mean(0)
    ent_a, ent_b = acts_a.entropy.mean(0), acts_b.entropy.mean(0)
    for layer in range(arch_a.n_layers):
        for head in range(arch_a.n_heads):
            row = {"layer": layer, "head": head, "entropy_a": float(ent_a[layer, head]),
                   "entropy_b": float(ent_b[layer, head]),
                   "entropy_shift": float(ent_b[layer, head] - ent_a[layer, head])}
            for k, score in enumerate(("previous_token", "induction", "duplicate_token")):
                a, b = float(mean_a[layer, head, k]), float(mean_b[layer, head, k])
                row.update({f"{score}_a": a, f"{score}_b": b, f"{score}_change": b - a})
            head_rows.append(row)
    samples = {"hidden_a": acts_a.hidden, "hidden_b": acts_b.hidden, "token_text": token_text,
               "entropy_a": acts_a.entropy, "entropy_b": acts_b.entropy, "scores_a": seq_a, "scores_b": seq_b,
               "n_texts": len(texts), "names": names, "mlp_width": mlp_width, "mlp_max": mlp_max}
    return CheckpointComparison(pd.DataFrame(rows), pd.DataFrame(head_rows), samples)
