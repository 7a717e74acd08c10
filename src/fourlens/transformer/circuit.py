"""Which induction circuit did the model form? Head scores + composition scores + ablations.

The textbook circuit (Elhage et al. 2021; Olsson et al. 2022) is a previous-token head whose output the
induction head reads through its keys (K-composition). It is not the only one: a duplicate-token head
feeding the induction head's queries (Q-composition) also implements "attend to the token after the
earlier occurrence". `induction_circuit` names the circuit from the data: the induction head is the
later-layer head with the highest induction score; its partner is the earlier-layer head whose
ablation raises the loss on repeated sequences most; the composition type is whichever of Q/K
composition between the two stands further above the random baseline. Ablations then confirm it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer.ablation import ablation_effects, repeat_loss
from fourlens.transformer.composition import composition_scores
from fourlens.transformer.head_scores import default_probe, head_scores

# A head "matters" for in-context copying when ablating it alone raises the repeated-token loss by
# this many nats; a formed induction circuit raises it by far more (several nats on the TinyLM).
EFFECT_THRESHOLD = 0.1


@dataclass(frozen=True)
class InductionCircuit:
    induction_head: tuple[int, int]
    source_head: tuple[int, int]
    source_role: str            # "previous-token" or "duplicate-token"
    composition: str            # "K" or "Q"
    composition_adj: dict[str, float]   # Q/K/V composition minus baseline, source -> induction head
    clean_loss: float           # loss on the repeated positions, no ablation
    ablation: dict[str, float]  # "L{layer}H{head}" -> loss rise when that head alone is ablated
    confirmed: bool             # both heads' ablations raise the loss by > EFFECT_THRESHOLD

    @property
    def description(self) -> str:
        (sl, sh), (il, ih) = self.source_head, self.induction_head
        verdict = "confirmed by ablation" if self.confirmed else "NOT confirmed by ablation"
        return (f"{self.source_role} head L{sl}H{sh} -> induction head L{il}H{ih} via "
                f"{self.composition}-composition ({verdict}: ablating them raises the repeated-token loss by "
                f"{self.ablation[f'L{il}H{ih}']:.2f} and {self.ablation[f'L{sl}H{sh}']:.2f} nats)")

    def to_dict(self) -> dict[str, Any]:
        return {"induction_head": list(self.induction_head), "source_head": list(self.source_head),
                "source_role": self.source_role, "composition": self.composition,
                "composition_adj": dict(self.composition_adj), "clean_loss": self.clean_loss,
                "ablation": dict(self.ablation), "confirmed": self.confirmed, "description": self.description}


def induction_circuit(model: nn.Module, tokenizer: Any = None, scores: pd.DataFrame | None = None,
                      n_sequences: int = 64, seed: int = 0, arch: Architecture | None = None) -> InductionCircuit:
    """Find the induction head, the earlier head it composes with, and confirm both by ablation.

    Needs a model with logits (a language-model head) and at least two layers."""
    arch = architecture(model, arch)
    if arch.n_layers < 2:
        raise BadInputError("an induction circuit needs at least two attention layers; this model has one")
    probe = default_probe(model, tokenizer, n_sequences=n_sequences, seed=seed + 1)
    scores = scores if scores is not None else head_scores(model, tokenizer, probe=probe, arch=arch)
    later = scores[scores.layer >= 1]
    top = later.loc[later.induction.idxmax()]
    induction = (int(top["layer"]), int(top["head"]))
    effects = ablation_effects(model, probe, arch=arch)
    earlier = {head: effect for head, effect in effects.items() if head[0] < induction[0]}
    source = max(earlier, key=earlier.get)
    comp = composition_scores(model, arch, seed=seed)
    pair = comp[(comp.source_layer == source[0]) & (comp.source_head == source[1])
                & (comp.target_layer == induction[0]) & (comp.target_head == induction[1])].iloc[0]
    kind = "K" if pair.k_adj >= pair.q_adj else "Q"
    source_row = scores[(scores.layer == source[0]) & (scores["head"] == source[1])].iloc[0]
    role = "previous-token" if source_row.previous_token >= source_row.duplicate_token else "duplicate-token"
    confirmed = effects[induction] > EFFECT_THRESHOLD and effects[source] > EFFECT_THRESHOLD
    return InductionCircuit(
        induction_head=induction, source_head=source, source_role=role, composition=kind,
        composition_adj={"q": float(pair.q_adj), "k": float(pair.k_adj), "v": float(pair.v_adj)},
        clean_loss=repeat_loss(model, probe),
        ablation={f"L{la}H{h}": float(e) for (la, h), e in effects.items()}, confirmed=bool(confirmed))
