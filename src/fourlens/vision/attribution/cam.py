"""CAM (Zhou et al. 2016, "Learning Deep Features for Discriminative Localization").

For a network ending in conv features A -> global average pooling -> one linear layer W, the class
score is s_c = b_c + sum_k W_ck mean_ij A_k(i, j), so M_c = sum_k W_ck A_k shows where s_c comes from
(mean(M_c) + b_c = s_c exactly). The feature layer and the classifier are found automatically by
checking that relation on the input; a model without such a head gets a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import check_inputs, require_eager, resolve_layer
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, probe, weighted_sum
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.layout import logits_of
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def find_gap_head(model: nn.Module, x: torch.Tensor, layer: str | nn.Module | None = None
                  ) -> tuple[str, nn.Linear]:
    """(feature layer name, classifier) such that logits = classifier(mean over h, w of the layer's output)."""
    outputs: list[torch.Tensor] = []
    with untouched(model):
        # the logits come from the probing forward itself (a hook on the model), not a second forward
        handle = model.register_forward_hook(lambda _m, _i, out: outputs.append(logits_of(out)))
        try:
            records = probe(model, x[:1])
        finally:
            handle.remove()
    logits = outputs[-1]
    linears = [(name, module, out, inp) for name, module, out, inp in records if isinstance(module, nn.Linear)]
    wanted = None if layer is None else resolve_layer(model, layer)[0]
    if linears:
        _name, classifier, out, inp = linears[-1]
        if out.shape == logits.shape and torch.allclose(out, logits, rtol=1e-4, atol=1e-5) and inp is not None:
            for name, _module, fmap, _inp in reversed(records):
                if wanted is not None and name != wanted:
                    continue
                if fmap.ndim == 4 and fmap.shape[1] == inp.shape[-1] and fmap.shape[-2:].numel() > 1:
                    pooled = fmap.mean(dim=(2, 3))  # (1, K): what a GAP head feeds the classifier
                    if torch.allclose(pooled, inp.reshape(pooled.shape), rtol=1e-4, atol=1e-5):
                        return name, classifier
    where = f"layer {wanted!r}" if wanted else "any layer"
    raise BadInputError(f"cam needs a global-average-pooling head: conv features -> mean over height and "
                        f"width -> one nn.Linear giving the logits; found none from {where} in this model. "
                        "Use grad_cam (any conv layer) instead")


def cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
        targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
        progress: bool = True) -> Attribution:
    """Class activation maps (n[, T], h, w) at the GAP head's feature layer, signed (bias excluded)."""
    x = check_inputs(model, x, batch_size)
    require_eager(model, "cam")
    layer_name, classifier = find_gap_head(model, x, layer)
    weight = classifier.weight.detach()  # (classes, K)

    def classifier_weights(batch: CamBatch) -> torch.Tensor:
        return weighted_sum(weight[batch.classes], batch.acts)  # weights (B, T, K): the classifier rows

    return class_activation_map(model, x, target, targets, layer_name, batch_size, "cam", classifier_weights, False,
                                progress=progress)
