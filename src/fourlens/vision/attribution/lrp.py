"""Layer-wise relevance propagation (Bach et al. 2015) with Zennit's composites (`lrp_rules` has the rules).

The relevance at the output is the target's score s_c; each layer hands its output relevance to its
input by its rule, and what reaches the image is the attribution (it sums to about s_c: exactly for
LRP-0 on a network without biases; `delta` = sum - s_c says how far). Zennit starts from a one-hot
output instead (relevance 1), so its maps are fourlens's divided by s_c; everything else is equal.

Composites (which rule each layer gets; Zennit's names):

- `epsilon`: LRP-epsilon for every convolution and linear layer;
- `epsilon_plus`: ZPlus for convolutions, epsilon for linear layers;
- `epsilon_alpha2_beta1`: alpha = 2, beta = 1 for convolutions, epsilon for linear layers;
- `epsilon_gamma_box`: ZBox (`low`, `high`: the input's value bounds) for the first convolution, Gamma
  (`gamma`) for the other convolutions, epsilon for linear layers.

Always: activations pass the relevance through, average pools use the `norm` rule, max pools pass it
to their winners (the gradient), and a BatchNorm that directly follows a convolution or linear layer is
merged into it (Zennit's `SequentialMergeBatchNorm` canonizer: the layer's rule sees W s and
(b - mean) s + beta with s = gamma / sqrt(var + eps), running statistics); any other BatchNorm passes
the relevance. Operations between modules (a residual addition, a functional ReLU) carry gradients,
which for an addition gives both branches the whole relevance: like Zennit without its ResNet
canonizer, LRP here is meant for chains of layers (VGG-style networks, the zoo model).

Each mapped module gets a forward hook that hands its output on through an autograd function whose
backward applies the rule; the hooks are removed when the call returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import (
    check_classes,
    check_inputs,
    check_logits,
    chunks,
    require_eager,
    target_classes,
)
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.lrp_rules import Rule, relevance_in
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

COMPOSITES = ("epsilon", "epsilon_plus", "epsilon_alpha2_beta1", "epsilon_gamma_box")
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
            nn.AdaptiveAvgPool3d)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_ACTIVATION = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.SiLU, nn.Hardtanh,
               nn.ReLU6, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid, nn.Hardswish, nn.Hardsigmoid, nn.Mish)


def composite_rules(model: nn.Module, composite: str, *, epsilon: float = 1e-6, gamma: float = 0.25,
                    low: float | torch.Tensor = 0.0, high: float | torch.Tensor = 1.0,
                    stabilizer: float = 1e-6) -> dict[nn.Module, Rule]:
    """The rule of every module the composite maps (Zennit's layer maps, first layer by module order)."""
    if composite not in COMPOSITES:
        raise ValueError(f"unknown LRP composite {composite!r}; choose one of {', '.join(COMPOSITES)}")
    conv_rule = {"epsilon": Rule("epsilon", epsilon), "epsilon_plus": Rule("zplus", stabilizer),
                 "epsilon_alpha2_beta1": Rule("alpha_beta", stabilizer, alpha=2.0, beta=1.0),
                 "epsilon_gamma_box": Rule("gamma", stabilizer, gamma=gamma)}[composite]
    rules: dict[nn.Module, Rule] = {}
    first = composite == "epsilon_gamma_box"
    for module in model.modules():
        if isinstance(module, _CONV):
            rules[module] = Rule("zbox", stabilizer, low=low, high=high) if first else conv_rule
            first = False
        elif isinstance(module, nn.Linear):
            rules[module] = Rule("epsilon", epsilon)
        elif isinstance(module, _AVGPOOL):
            rules[module] = Rule("norm", stabilizer)
        elif isinstance(module, (*_ACTIVATION, *_BATCHNORM)):
            rules[module] = Rule("pass")
    return rules


@dataclass(eq=False)
class _Layer:
    """A mapped module's rule, and the BatchNorm merged into it (found while the forward runs)."""

    module: nn.Module
    rule: Rule
    state: dict = field(default_factory=dict)  # shared by the layers of one call: {"paused": bool}
    merged: nn.Module | None = None

    def params(self) -> dict[str, torch.Tensor | None]:
        weight = getattr(self.module, "weight", None)
        bias = getattr(self.module, "bias", None)
        params = {"weight": None if weight is None else weight.detach(),
                  "bias": None if bias is None else bias.detach()}
        if self.merged is not None and params["weight"] is not None:
            bn = self.merged
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)  # (K,)
            shape = (-1,) + (1,) * (params["weight"].ndim - 1)
            base = params["bias"] if params["bias"] is not None else torch.zeros_like(scale)
            params = {"weight": params["weight"] * scale.view(shape),
                      "bias": (base - bn.running_mean) * scale + bn.bias.detach()}
        return params


class _Relevance(torch.autograd.Function):
    """Forward: the layer's output as computed. Backward: the rule's input relevance for the incoming one."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, output: torch.Tensor, layer: _Layer) -> torch.Tensor:  # type: ignore[override]
        ctx.layer = layer
        ctx.save_for_backward(x)
        return output.clone()

    @staticmethod
    def backward(ctx, relevance: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        layer = ctx.layer
        if layer.rule.name == "pass":
            return relevance, None, None
        layer.state["paused"] = True  # the rule runs the layer again: its hook must not wrap that run
        try:
            return relevance_in(layer.rule, layer.module, x, relevance, layer.params()), None, None
        finally:
            layer.state["paused"] = False


@contextmanager
def relevance_hooks(model: nn.Module, rules: dict[nn.Module, Rule], merge_batchnorm: bool = True) -> Iterator[None]:
    """Within the block, a forward pass of `model` backpropagates relevance instead of gradients."""
    state = {"paused": False}
    layers = {module: _Layer(module, rule, state) for module, rule in rules.items()}
    produced: dict[int, _Layer] = {}  # id of a layer's output tensor -> the layer (for BatchNorm merging)

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if state["paused"] or not isinstance(output, torch.Tensor) or not inputs or \
                not isinstance(inputs[0], torch.Tensor):
            return None
        layer = layers[module]
        if isinstance(module, _BATCHNORM) and merge_batchnorm:
            below = produced.get(id(inputs[0]))
            if below is not None and below.rule.name != "pass" and module.track_running_stats:
                below.merged = module  # its rule now sees the merged parameters; this BatchNorm passes
        out = _Relevance.apply(inputs[0], output.detach(), layer)
        produced[id(out)] = layer
        return out

    handles = [module.register_forward_hook(hook) for module in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def lrp(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, composite: str = "epsilon_plus",
        epsilon: float = 1e-6, gamma: float = 0.25, low: float | torch.Tensor = 0.0,
        high: float | torch.Tensor = 1.0, stabilizer: float = 1e-6, merge_batchnorm: bool = True,
        targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64, progress: bool = True
        ) -> Attribution:
    """LRP relevance at the input, `values` of x's shape (n[, T], C, H, W), signed; `delta` (n[, T]) =
    sum(values) - s_c. `composite` and its settings as in the module docs (`epsilon` for the epsilon rule,
    `stabilizer` for the others, as Zennit's); BatchNorm is merged with its running statistics.
    `progress`: a bar over the images on a terminal when the run lasts more than a few seconds."""
    x = check_inputs(model, x, batch_size)
    require_eager(model, "lrp")
    rules = composite_rules(model, composite, epsilon=epsilon, gamma=gamma, low=low, high=high, stabilizer=stabilizer)
    if not rules:
        raise BadInputError("lrp found no convolution, linear or pooling module in the model; it propagates "
                            "relevance through nn.Module layers")
    n = x.shape[0]
    with untouched(model):
        classes = target_classes(model, x, target, targets, batch_size)
        values, scores = [], []
        with relevance_hooks(model, rules, merge_batchnorm), Bar(n, "lrp", progress) as bar:
            for part in chunks(n, batch_size):
                inputs = x[part].detach().requires_grad_(True)
                with torch.enable_grad():
                    out = check_logits(forward(model, inputs))
                chosen = classes[part]
                check_classes(chosen, out.shape[1])
                per_target = []
                for t in range(chosen.shape[1]):
                    # the relevance at the output: the target's score, zero elsewhere
                    index = chosen[:, t:t + 1]
                    seed = torch.zeros_like(out).scatter_(1, index, out.detach().gather(1, index))
                    (relevance,) = torch.autograd.grad(out, inputs, seed, retain_graph=t < chosen.shape[1] - 1)
                    per_target.append(relevance)
                values.append(torch.stack(per_target, dim=1))  # (B, T, C, H, W)
                scores.append(out.detach().gather(1, chosen))
                bar.advance(part.stop - part.start)
    result = torch.cat(values)
    delta = result.flatten(2).sum(2) - torch.cat(scores)
    return finish(result, classes, targets, "lrp", delta=delta,
                  params={"composite": composite, "epsilon": epsilon, "gamma": gamma, "stabilizer": stabilizer,
                          "merge_batchnorm": merge_batchnorm})
