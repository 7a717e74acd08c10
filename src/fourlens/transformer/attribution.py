"""`token_attribution`: which prompt tokens drove a causal language model's continuation?

The explained quantity is the log-probability of each target token given the prompt and the target
tokens before it (teacher forcing, one forward pass: a causal model's logits at a position do not see
later tokens). Three methods, defined as Captum's `LLMAttribution` / `LLMGradientAttribution` define
them (the tests check equality):

- `integrated_gradients` (Sundararajan et al. 2017) on the token-embedding output: the prompt's
  embeddings move from the baseline token's embedding to their own along a straight path (the target
  tokens keep theirs); per prompt token (x - x') . integral of the gradient, summed over the embedding
  dimension, with Gauss-Legendre quadrature. Completeness: for each target token j the prompt's
  attributions sum to log p_j(prompt) - log p_j(baseline prompt).
- `gradient_x_input`: gradient of log p_j with respect to each embedding, dotted with the embedding.
- `feature_ablation`: log p_j(prompt) - log p_j(prompt with a token, or a span of tokens, replaced by
  the baseline token), batched `batch_size` ablated copies per forward pass.

`token_attr` is (target tokens, prompt tokens or spans); `seq_attr` its sum over target tokens (the
attribution of the whole continuation's log-probability).
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from fourlens._quadrature import quadrature
from fourlens.errors import BadInputError
from fourlens.transformer._arch import architecture
from fourlens.transformer._run import device_of, forward, hooks, inspecting, logits_of
from fourlens.transformer.attribution_html import render_attribution_html

METHODS = ("integrated_gradients", "gradient_x_input", "feature_ablation")
Method = Literal["integrated_gradients", "gradient_x_input", "feature_ablation"]


@dataclass(frozen=True)
class TokenAttribution:
    """`input_tokens`: the prompt's tokens (or the spans' text for span ablation); `target_tokens`;
    `token_attr` (targets, inputs); `seq_attr` (inputs,); `target_log_probs` (targets,) of the model."""

    method: str
    input_tokens: tuple[str, ...]
    target_tokens: tuple[str, ...]
    token_attr: torch.Tensor
    seq_attr: torch.Tensor
    target_log_probs: torch.Tensor

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "input_tokens": list(self.input_tokens),
                "target_tokens": list(self.target_tokens), "token_attr": self.token_attr.round(decimals=6).tolist(),
                "seq_attr": self.seq_attr.round(decimals=6).tolist(),
                "target_log_probs": self.target_log_probs.round(decimals=6).tolist()}

    def to_html(self, title: str = "Token attribution") -> str:
        return render_attribution_html(method=self.method, input_tokens=self.input_tokens,
                                       target_tokens=self.target_tokens, token_attr=self.token_attr,
                                       seq_attr=self.seq_attr, target_log_probs=self.target_log_probs, title=title)

    def _repr_html_(self) -> str:
        return f'<iframe srcdoc="{html.escape(self.to_html())}" style="width:100%;height:480px;border:0"></iframe>'


def _ids(tokenizer: Any, text: str) -> list[int]:
    if hasattr(tokenizer, "encode"):
        ids = tokenizer.encode(text)
        return list(ids.tolist() if isinstance(ids, torch.Tensor) else ids)
    return list(tokenizer([text])["input_ids"][0])


def continuation_ids(tokenizer: Any, target: str) -> list[int]:
    """The target's tokens without the special tokens a tokenizer adds to a text's start (BOS)."""
    ids = tokenizer.encode(target, add_special_tokens=False) if _takes_special(tokenizer) else _ids(tokenizer, target)
    return list(ids)


def _takes_special(tokenizer: Any) -> bool:
    try:
        tokenizer.encode("a", add_special_tokens=False)
    except TypeError:
        return False
    return hasattr(tokenizer, "encode")


def _log_probs(logits: torch.Tensor, n_prompt: int, target: torch.Tensor) -> torch.Tensor:
    """(batch, targets): log p of each target token, read at the positions that predict them."""
    t = target.shape[0]
    predicting = logits[:, n_prompt - 1:n_prompt - 1 + t].float().log_softmax(-1)  # (batch, targets, vocab)
    return predicting[:, torch.arange(t), target]


def _target_log_probs(model: nn.Module, batch: torch.Tensor, n: int, target: torch.Tensor) -> torch.Tensor:
    """(batch, targets) log p of the target tokens after the prompt's `n` tokens, in one forward pass. A
    Hugging Face causal LM computes only the logits of the positions that predict the targets
    (`logits_to_keep`): over a long few-shot prompt the full (batch, seq, vocab) logits are most of the
    time and memory of an attribution."""
    inputs = {"input_ids": batch, "attention_mask": torch.ones_like(batch)}
    keep = target.shape[0] + 1   # positions n - 1 .. end: the last predicts nothing, cheaper than slicing
    if _keeps_logits(model):
        return _log_probs(logits_of(forward(model, {**inputs, "logits_to_keep": keep})), 1, target)
    return _log_probs(logits_of(forward(model, inputs)), n, target)


def _keeps_logits(model: nn.Module) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def token_attribution(model: nn.Module, tokenizer: Any, prompt: str, target: str,
                      method: Method = "integrated_gradients", steps: int = 50, baseline_token: int | None = None,
                      spans: Sequence[tuple[int, int]] | None = None, batch_size: int = 16,
                      max_target_tokens: int | None = None, per_target: bool = True) -> TokenAttribution:
    """Attribute the log-probability of `target` after `prompt` to the prompt's tokens (see module doc).

    `baseline_token`: the token id of the baseline (IG's path start, the ablation's replacement);
    default the tokenizer's unknown/padding token, else 0. `spans`: [start, stop) token ranges ablated
    together (`feature_ablation` only; default one span per token). `max_target_tokens`: explain only the
    target's first tokens (a long generation by its opening). `per_target=False` (gradient methods):
    attribute only the whole continuation's log-probability, one backward pass per batch instead of one
    per target token; `token_attr` then has one row, equal to `seq_attr`."""
    if method not in METHODS:
        raise BadInputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    arch = architecture(model)
    if not arch.causal or arch.encoder_decoder:
        kind = "an encoder-decoder" if arch.encoder_decoder else "an encoder"
        raise BadInputError(f"token attribution explains a causal language model's continuation; "
                            f"{type(model).__name__} is {kind}")
    if arch.embed is None:
        raise BadInputError(f"cannot find the token embedding of {type(model).__name__}")
    prompt_ids, target_ids = _ids(tokenizer, prompt), continuation_ids(tokenizer, target)[:max_target_tokens]
    if not prompt_ids or not target_ids:
        raise BadInputError("the prompt and the target must each be at least one token")
    if spans is not None and method != "feature_ablation":
        raise BadInputError("spans are for method='feature_ablation'")
    base = baseline_token if baseline_token is not None else next(
        (v for v in (getattr(tokenizer, "unk_token_id", None), getattr(tokenizer, "pad_token_id", None))
         if v is not None), 0)
    device = device_of(model)
    ids = torch.tensor([prompt_ids + target_ids], device=device)  # (1, prompt + target)
    target_t = torch.tensor(target_ids, device=device)
    n = len(prompt_ids)
    prompt_tokens = tuple(tokenizer.convert_ids_to_tokens(prompt_ids))
    with inspecting(model, grad=method != "feature_ablation"):
        embed = arch.module(model, arch.embed)
        if method == "feature_ablation":
            groups = [(i, i + 1) for i in range(n)] if spans is None else [(int(a), int(b)) for a, b in spans]
            token_attr, logp = _ablation(model, ids, n, target_t, base, groups, batch_size)
            labels = tuple("".join(prompt_tokens[a:b]) for a, b in groups)
        else:
            token_attr, logp = _gradients(model, embed, ids, n, target_t, base, method, steps, batch_size,
                                          per_target)
            labels = prompt_tokens
    targets = tuple(tokenizer.convert_ids_to_tokens(target_ids))
    return TokenAttribution(method, labels, targets, token_attr, token_attr.sum(0), logp)


def _ablation(model: nn.Module, ids: torch.Tensor, n: int, target: torch.Tensor, base: int,
              groups: list[tuple[int, int]], batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    for start, stop in groups:
        if not 0 <= start < stop <= n:
            raise BadInputError(f"span ({start}, {stop}) is not inside the prompt's {n} tokens")
    original = _target_log_probs(model, ids, n, target)[0]  # (targets,)
    out = torch.zeros(target.shape[0], len(groups))
    for first in range(0, len(groups), batch_size):
        chunk = groups[first:first + batch_size]
        batch = ids.repeat(len(chunk), 1)  # (copies, seq): copy c has span c replaced by the baseline token
        for c, (start, stop) in enumerate(chunk):
            batch[c, start:stop] = base
        out[:, first:first + len(chunk)] = (original[None] - _target_log_probs(model, batch, n, target)).T.cpu()
    return out, original.cpu()


def _gradients(model: nn.Module, embed: nn.Module, ids: torch.Tensor, n: int, target: torch.Tensor, base: int,
               method: str, steps: int, batch_size: int, per_target: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(targets, prompt tokens) attributions, or (1, prompt tokens) for their sum when not `per_target`,
    and the targets' log-probabilities."""
    with torch.no_grad():
        actual = embed(ids).detach()            # (1, seq, d) what the model embeds
        start = embed(torch.full_like(ids, base)).detach()
        start[:, n:] = actual[:, n:]  # only the prompt moves along the path
    if method == "gradient_x_input":
        alphas, weights, start = torch.ones(1), torch.ones(1), torch.zeros_like(actual)
    else:
        nodes, node_weights = quadrature("gausslegendre", steps)
        alphas, weights = torch.from_numpy(nodes), torch.from_numpy(node_weights)
    t = target.shape[0]
    rows = t if per_target else 1
    summed = torch.zeros(rows, *actual.shape[1:], dtype=torch.float32, device=actual.device)  # (rows, seq, d)
    logp = None
    for first in range(0, len(alphas), batch_size):
        a = alphas[first:first + batch_size].to(actual.device, torch.float32)
        w = weights[first:first + batch_size].to(actual.device, torch.float32)
        # (points, seq, d): the embeddings at each quadrature point of the path
        path = (start.float() + a[:, None, None] * (actual - start).float()).to(actual.dtype).requires_grad_(True)
        batch = ids.expand(len(a), -1)
        with hooks([(embed, "forward", lambda _m, _a, _o, path=path: path)]):
            log_probs = _target_log_probs(model, batch, n, target)  # (points, targets)
        if method == "gradient_x_input":
            logp = log_probs[0].detach().cpu()
        # one backward pass per target token, or one for their sum (the whole continuation)
        outputs = [log_probs[:, j].sum() for j in range(t)] if per_target else [log_probs.sum()]
        for j, output in enumerate(outputs):
            (grad,) = torch.autograd.grad(output, path, retain_graph=j < len(outputs) - 1)
            summed[j] += (grad.float() * w[:, None, None]).sum(0)  # weighted sum over the points
    if logp is None:
        with torch.no_grad():
            logp = _target_log_probs(model, ids, n, target)[0].cpu()
    attr = (summed * (actual - start).float()).sum(-1)  # (targets, seq)
    return attr[:, :n].cpu(), logp
