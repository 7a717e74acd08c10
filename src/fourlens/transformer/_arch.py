"""Where the parts of a transformer live: one `Architecture` per model family.

The lens needs, per model: the attention modules' output projections (their input is the heads'
outputs side by side, so a pre-forward hook there sees, ablates or patches one head), the residual
blocks (whose outputs are the hidden states), the per-head Q/K/V/O weights (for composition and
copying scores), the token embedding and unembedding, and the final norm (for the logit lens).
Built in: fourlens's TinyLM, BERT-family encoders (BERT, MiniLM, ...), GPT-2. Any other `nn.Module`
works by passing an `Architecture` naming its modules (`weights` may then be left out: the methods
that need weights say so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fourlens.errors import BadInputError

# per-head weights in the row-vector convention of Elhage et al. 2021 / TransformerLens:
# W_Q, W_K, W_V: (heads, d_model, d_head); W_O: (heads, d_head, d_model)
HeadWeights = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Architecture:
    """Names (as in `model.named_modules()`) of the parts the lens reads, and how to get weights."""

    family: str
    n_layers: int
    n_heads: int
    blocks: tuple[str, ...]            # residual blocks, in order; their first output is the hidden state
    head_inputs: tuple[str, ...]       # per layer: the module whose input is the heads' outputs concatenated
    causal: bool
    embed: str | None = None           # token embedding (nn.Embedding)
    unembed: str | None = None         # module mapping the final residual to logits (None: tied to embed)
    final_norm: str | None = None      # applied before the unembedding (None: none)
    layer_weights: Callable[[nn.Module, int], HeadWeights] | None = None
    mlp_activations: tuple[str, ...] = ()  # modules whose output is an MLP's post-activation units
    attention_probs: tuple[str, ...] = ()  # per layer: a module whose first input is the softmaxed attention
                                           # (for models that do not return attentions, e.g. nanoGPT's attn_dropout)

    def __post_init__(self) -> None:
        if len(self.blocks) != self.n_layers or len(self.head_inputs) != self.n_layers:
            raise ValueError(f"Architecture: blocks and head_inputs need one name per layer ({self.n_layers})")

    def module(self, model: nn.Module, name: str) -> nn.Module:
        try:
            return model.get_submodule(name)
        except AttributeError:
            raise BadInputError(f"the model has no module named {name!r}; check the Architecture "
                                f"for {self.family}") from None

    def head_weights(self, model: nn.Module, layer: int) -> HeadWeights:
        if self.layer_weights is None:
            raise BadInputError(f"the {self.family} architecture does not say where its Q/K/V/O weights are; "
                                "pass an Architecture with layer_weights to use weight-based scores")
        return self.layer_weights(model, layer)

    def embedding_matrix(self, model: nn.Module) -> torch.Tensor:
        """(vocab, d_model)"""
        if self.embed is None:
            raise BadInputError(f"the {self.family} architecture names no token embedding")
        return self.module(model, self.embed).weight.detach()

    def unembedding_matrix(self, model: nn.Module) -> torch.Tensor:
        """(d_model, vocab); the transposed embedding for models whose unembedding is tied or absent."""
        if self.unembed is None:
            return self.embedding_matrix(model).T
        return self.module(model, self.unembed).weight.detach().T


def _split_rows(weight: torch.Tensor, heads: int) -> torch.Tensor:
    # nn.Linear weight (out=heads*d_head, in=d_model) -> (heads, d_model, d_head)
    out, d_in = weight.shape
    return weight.detach().view(heads, out // heads, d_in).transpose(1, 2)


def _split_cols(weight: torch.Tensor, heads: int) -> torch.Tensor:
    # nn.Linear weight (out=d_model, in=heads*d_head) -> (heads, d_head, d_model)
    d_out, d_in = weight.shape
    return weight.detach().view(d_out, heads, d_in // heads).permute(1, 2, 0)


def _tinylm(model: nn.Module) -> Architecture:
    config = model.config
    n = config.n_layers

    def weights(m: nn.Module, layer: int) -> HeadWeights:
        attn = m.blocks[layer].attn
        h = config.n_heads
        return (_split_rows(attn.q.weight, h), _split_rows(attn.k.weight, h), _split_rows(attn.v.weight, h),
                _split_cols(attn.o.weight, h))

    return Architecture("tinylm", n, config.n_heads, tuple(f"blocks.{i}" for i in range(n)),
                        tuple(f"blocks.{i}.attn.o" for i in range(n)), causal=True, embed="embed",
                        unembed="unembed", final_norm="final_norm", layer_weights=weights)


def _bert(model: nn.Module) -> Architecture:
    config = model.config
    prefix = "bert." if hasattr(model, "bert") else ""
    n, h = config.num_hidden_layers, config.num_attention_heads

    def weights(m: nn.Module, layer: int) -> HeadWeights:
        block = m.get_submodule(f"{prefix}encoder.layer.{layer}.attention")
        s = block.self
        return (_split_rows(s.query.weight, h), _split_rows(s.key.weight, h), _split_rows(s.value.weight, h),
                _split_cols(block.output.dense.weight, h))

    has_mlm = hasattr(model, "cls")
    return Architecture("bert", n, h, tuple(f"{prefix}encoder.layer.{i}" for i in range(n)),
                        tuple(f"{prefix}encoder.layer.{i}.attention.output.dense" for i in range(n)),
                        causal=False, embed=f"{prefix}embeddings.word_embeddings",
                        unembed="cls.predictions.decoder" if has_mlm else None,
                        final_norm="cls.predictions.transform" if has_mlm else None, layer_weights=weights,
                        mlp_activations=tuple(f"{prefix}encoder.layer.{i}.intermediate" for i in range(n)))


def _gpt2(model: nn.Module) -> Architecture:
    config = model.config
    prefix = "transformer." if hasattr(model, "transformer") else ""
    n, h = config.n_layer, config.n_head

    def weights(m: nn.Module, layer: int) -> HeadWeights:
        attn = m.get_submodule(f"{prefix}h.{layer}.attn")
        d = config.n_embd
        # GPT-2's Conv1D stores (in, out): transpose to nn.Linear's (out, in) layout first
        qkv = attn.c_attn.weight.detach().T  # (3d, d)
        return (_split_rows(qkv[:d], h), _split_rows(qkv[d:2 * d], h), _split_rows(qkv[2 * d:], h),
                _split_cols(attn.c_proj.weight.detach().T, h))

    return Architecture("gpt2", n, h, tuple(f"{prefix}h.{i}" for i in range(n)),
                        tuple(f"{prefix}h.{i}.attn.c_proj" for i in range(n)), causal=True,
                        embed=f"{prefix}wte", unembed="lm_head" if hasattr(model, "lm_head") else None,
                        final_norm=f"{prefix}ln_f", layer_weights=weights,
                        mlp_activations=tuple(f"{prefix}h.{i}.mlp.act" for i in range(n)))


def architecture(model: nn.Module, arch: Architecture | None = None) -> Architecture:
    """The model's `Architecture`: `arch` when given, else recognised from the model's class/config."""
    if arch is not None:
        return arch
    from fourlens.demo.tinylm import TinyLM

    if isinstance(model, TinyLM):
        return _tinylm(model)
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in ("bert", "roberta", "xlm-roberta", "camembert", "electra"):
        if model_type != "bert":
            raise BadInputError(f"{model_type} models are not wired in yet; pass an Architecture naming its modules")
        return _bert(model)
    if model_type == "gpt2":
        return _gpt2(model)
    raise BadInputError(
        f"fourlens does not know where the attention modules of a {type(model).__name__} "
        f"(model_type={model_type!r}) are; pass arch=Architecture(...) naming its blocks and the "
        "output projection of each attention layer (see fourlens.transformer.Architecture)")
