"""The LRP rules, as Zennit defines them (Anders et al. 2021, "Software for Dataset-wide XAI"; the rules
of Bach et al. 2015 and Montavon et al. 2019, "Layer-Wise Relevance Propagation: An Overview").

A rule maps the relevance R arriving at a layer's output to its input. Each runs the layer again on
modified inputs and parameters (terms), divides R by a stabilized sum of the terms' outputs, sends the
quotient back through each term (its gradient) and weighs it by the term's input:

- epsilon:     R_in = x * W^T (R / (z + eps sign z)), z = W x + b (LRP-0 with eps = 0);
- zplus:       positive and negative parts, z = W+ x+ + W- x- + b+ (alpha = 1, beta = 0 for any input sign);
- alpha_beta:  alpha times the positive contributions minus beta times the negative ones (alpha - beta = 1);
- gamma:       weights W + gamma W+ (for z > 0; W + gamma W- where z < 0), Zennit's generalized Gamma;
- zbox:        the first layer's rule for inputs bounded by [low, high] (Montavon et al. 2017);
- norm:        average pooling: R_in = x * d pool / dx (R / stab(pool(x))), no parameters;
- pass:        the relevance goes through unchanged (activations, BatchNorm not merged into a layer).

The stabilizer adds eps with the sign of z (+eps where z = 0), as Zennit's and Captum's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

RULES = ("epsilon", "zplus", "alpha_beta", "gamma", "zbox", "norm", "pass")


@dataclass(frozen=True)
class Rule:
    """One LRP rule and its settings (`epsilon` is also the stabilizer of the other rules)."""

    name: str
    epsilon: float = 1e-6
    alpha: float = 2.0
    beta: float = 1.0
    gamma: float = 0.25
    low: float | torch.Tensor = 0.0
    high: float | torch.Tensor = 1.0

    def __post_init__(self) -> None:
        if self.name not in RULES:
            raise ValueError(f"unknown LRP rule {self.name!r}; choose one of {', '.join(RULES)}")
        if self.name == "alpha_beta" and (self.alpha < 0 or self.beta < 0 or abs(self.alpha - self.beta - 1) > 1e-12):
            raise ValueError(f"alpha_beta needs alpha, beta >= 0 and alpha - beta = 1; got {self.alpha}, {self.beta}")


def stabilize(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    return z + epsilon * ((z == 0).to(z) + z.sign())


Params = dict[str, torch.Tensor | None]


def _pos(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clamp(min=0)


def _neg(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clamp(max=0)


def _zero(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else torch.zeros_like(t)


def _term(module: nn.Module, x: torch.Tensor, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """(input leaf, output) of `module` run on x with `params` replacing its own, with a graph from x."""
    leaf = x.detach().requires_grad_(True)
    given = {name: value for name, value in params.items() if value is not None}
    with torch.enable_grad():
        return leaf, functional_call(module, given, (leaf,)) if given else module(leaf)


def relevance_in(rule: Rule, module: nn.Module, x: torch.Tensor, relevance: torch.Tensor, params: Params
                 ) -> torch.Tensor:
    """The relevance at `module`'s input x for `relevance` at its output; `params` = {"weight", "bias"}."""
    w, b = params.get("weight"), params.get("bias")
    eps = rule.epsilon

    def back(terms: list[tuple[torch.Tensor, torch.Tensor]], grads: list[torch.Tensor]) -> list[torch.Tensor]:
        return list(torch.autograd.grad([out for _i, out in terms], [inp for inp, _o in terms], grads))

    if rule.name == "pass":
        return relevance
    if rule.name in ("epsilon", "norm"):
        terms = [_term(module, x, params if rule.name == "epsilon" else {})]
        (grad,) = back(terms, [relevance / stabilize(terms[0][1], eps)])
        return x * grad
    if rule.name == "zplus":
        terms = [_term(module, x.clamp(min=0), {"weight": _pos(w), "bias": _pos(b)}),
                 _term(module, x.clamp(max=0), {"weight": _neg(w), "bias": _zero(b)})]
        shared = relevance / stabilize(terms[0][1] + terms[1][1], eps)
        g_pos, g_neg = back(terms, [shared, shared])
        return x.clamp(min=0) * g_pos + x.clamp(max=0) * g_neg
    if rule.name == "alpha_beta":
        xp, xn = x.clamp(min=0), x.clamp(max=0)
        terms = [_term(module, xp, {"weight": _pos(w), "bias": _pos(b)}),
                 _term(module, xn, {"weight": _neg(w), "bias": _zero(b)}),
                 _term(module, xp, {"weight": _neg(w), "bias": _neg(b)}),
                 _term(module, xn, {"weight": _pos(w), "bias": _zero(b)})]
        up = relevance / stabilize(terms[0][1] + terms[1][1], eps)
        down = relevance / stabilize(terms[2][1] + terms[3][1], eps)
        g = back(terms, [up, up, down, down])
        return rule.alpha * (xp * g[0] + xn * g[1]) - rule.beta * (xp * g[2] + xn * g[3])
    if rule.name == "gamma":
        xp, xn = x.clamp(min=0), x.clamp(max=0)

        def lift(t: torch.Tensor | None, part: Callable) -> torch.Tensor | None:
            return None if t is None else t + rule.gamma * part(t)

        terms = [_term(module, xp, {"weight": lift(w, _pos), "bias": lift(b, _pos)}),
                 _term(module, xn, {"weight": lift(w, _neg), "bias": _zero(b)}),
                 _term(module, xp, {"weight": lift(w, _neg), "bias": lift(b, _neg)}),
                 _term(module, xn, {"weight": lift(w, _pos), "bias": _zero(b)})]
        z = _term(module, x, params)[1].detach()
        up = (z > 0) * relevance / stabilize(terms[0][1] + terms[1][1], eps)
        down = (z < 0) * relevance / stabilize(terms[2][1] + terms[3][1], eps)
        g = back(terms, [up, up, down, down])
        return xp * g[0] + xn * g[1] + xp * g[2] + xn * g[3]
    # zbox: the input, and the box's bounds through the positive and negative weights
    low = torch.as_tensor(rule.low, dtype=x.dtype, device=x.device).expand_as(x)
    high = torch.as_tensor(rule.high, dtype=x.dtype, device=x.device).expand_as(x)
    terms = [_term(module, x, params), _term(module, low, {"weight": _pos(w), "bias": _pos(b)}),
             _term(module, high, {"weight": _neg(w), "bias": _neg(b)})]
    shared = relevance / stabilize(terms[0][1] - terms[1][1] - terms[2][1], eps)
    g = back(terms, [shared] * 3)
    return x * g[0] - low * g[1] - high * g[2]
