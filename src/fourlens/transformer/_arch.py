"""Where the parts of a transformer live: the `Architecture` the lens reads.

The lens needs, per model: the residual blocks (whose outputs are the hidden states), the attention
modules' output projections (their input is the heads' outputs side by side, so a pre-forward hook
there sees, ablates or patches one head), the per-head Q/K/V/O weights (for composition and copying
scores), the MLP outputs, the token embedding and unembedding, and what runs between the last block
and the unembedding (for the logit lens). `architecture(model)` reads all of it from the module tree
(`fourlens.transformer._discover`); any model whose tree does not say it works by passing an
`Architecture` naming its modules (`layer_weights` may then be left out: the methods that need
weights say so).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._discover import AttentionSite, discover, linear_shape
from fourlens.transformer._run import device_of, forward, hooks, inspecting
from fourlens.transformer.streaming import read_parameter

# per-head weights in the row-vector convention of Elhage et al. 2021 / TransformerLens:
# W_Q, W_K, W_V: (heads, d_model, d_head); W_O: (heads, d_head, d_model). With grouped-query attention
# W_K and W_V are repeated so that row h is the key/value head that query head h reads.
HeadWeights = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Architecture:
    """Names (as in `model.named_modules()`) of the parts the lens reads, and how to get weights.

    `blocks`: residual blocks in forward order (their first output is the hidden state); `head_inputs`:
    per self-attention layer, the module whose input is the heads' outputs concatenated. Filled in by
    `architecture(model)`: `stacks` (the block lists: two for an encoder-decoder), `cross_head_inputs`
    (cross-attention output projections), `mlp_outputs` (each block's MLP down-projection: its input is
    the MLP's hidden units, its output what the MLP adds to the residual stream)."""

    family: str
    n_layers: int
    n_heads: int
    blocks: tuple[str, ...]
    head_inputs: tuple[str, ...]
    causal: bool
    embed: str | None = None           # token embedding (nn.Embedding)
    unembed: str | None = None         # module mapping the final residual to logits (None: tied to embed)
    final_norm: str | None = None      # applied before the unembedding (None: found at run time, or none)
    layer_weights: Callable[[nn.Module, int], HeadWeights] | None = None
    mlp_activations: tuple[str, ...] = ()  # modules whose output is an MLP's post-activation units
    attention_probs: tuple[str, ...] = ()  # per layer: a module whose first input is the softmaxed attention
                                           # (for models that do not return attentions, e.g. nanoGPT's attn_dropout)
    mlp_outputs: tuple[str, ...] = ()
    cross_head_inputs: tuple[str, ...] = ()
    stacks: tuple[str, ...] = ()
    stack_of_block: tuple[int, ...] = ()
    encoder_decoder: bool = False
    layer_stack: tuple[int, ...] = ()  # per self-attention layer, the stack it belongs to
    discovered: bool = field(default=False, repr=False)  # the lens found the final modules itself

    def __post_init__(self) -> None:
        if len(self.head_inputs) != self.n_layers:
            raise ValueError(f"Architecture: head_inputs needs one name per layer ({self.n_layers})")
        if not self.blocks:
            raise ValueError("Architecture: blocks names no residual block")

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
        return read_parameter(model, self.embed)

    def unembedding_matrix(self, model: nn.Module) -> torch.Tensor:
        """(d_model, vocab); the transposed embedding for models whose unembedding is tied or absent."""
        if self.unembed is None:
            return self.embedding_matrix(model).T
        return read_parameter(model, self.unembed).T

    def mlp_units(self) -> list[tuple[str, str]]:
        """(module, "output" | "input") whose tensor holds each MLP's hidden units."""
        if self.mlp_activations:
            return [(name, "output") for name in self.mlp_activations]
        return [(name, "input") for name in self.mlp_outputs]

    def last_stack_blocks(self) -> tuple[str, ...]:
        """The blocks whose output reaches the unembedding (the decoder of an encoder-decoder)."""
        if not self.stacks:
            return self.blocks
        last = len(self.stacks) - 1
        return tuple(b for b, s in zip(self.blocks, self.stack_of_block, strict=True) if s == last)


def weight_rows(model: nn.Module, name: str, parameter: str = "weight") -> torch.Tensor:
    """A projection's weight as (out, in), whatever its storage (GPT-2's Conv1D keeps (in, out)); read
    from disk when the model streams its blocks. `parameter="bias"` gives the bias (1-D)."""
    tensor = read_parameter(model, name, parameter)
    return tensor if isinstance(model.get_submodule(name), nn.Linear) or tensor.dim() == 1 else tensor.T


def _split_rows(weight: torch.Tensor, heads: int) -> torch.Tensor:
    # nn.Linear weight (out=heads*d_head, in=d_model) -> (heads, d_model, d_head)
    out, d_in = weight.shape
    return weight.detach().view(heads, out // heads, d_in).transpose(1, 2)


def _split_cols(weight: torch.Tensor, heads: int) -> torch.Tensor:
    # nn.Linear weight (out=d_model, in=heads*d_head) -> (heads, d_head, d_model)
    d_out, d_in = weight.shape
    return weight.detach().view(d_out, heads, d_in // heads).permute(1, 2, 0)


def _fused_rows(rows: torch.Tensor, site: AttentionSite, layout: str) -> tuple[torch.Tensor, ...]:
    """Split a fused q/k/v weight (or bias, 1-D) into its q, k, v rows, for one of the two layouts
    in use: `blocked` [q heads | k heads | v heads] (GPT-2, Phi-3) or `per_head` [(q, k, v) of head 0,
    of head 1, ...] (GPT-NeoX / Pythia)."""
    h, kv, d = site.n_heads, site.n_kv_heads, site.d_head
    if layout == "blocked":
        return rows[:h * d], rows[h * d:(h + kv) * d], rows[(h + kv) * d:]
    grouped = rows.reshape(h, 3, d, *rows.shape[1:])  # (heads, qkv, d_head, [in])
    return tuple(grouped[:, i].reshape(h * d, *rows.shape[1:]) for i in range(3))


def _fused_layout(model: nn.Module, site: AttentionSite) -> str:
    """Which fused layout the model computes with: run one token (its attention is 1 on itself, so each
    head's output is exactly its value vector) and keep the layout whose value rows reproduce it."""
    fused = model.get_submodule(site.qkv)
    captured: dict[str, torch.Tensor] = {}
    with inspecting(model), hooks([(fused, "pre", lambda _m, a: captured.setdefault("x", a[0])),
                                   (model.get_submodule(site.head_input), "pre",
                                    lambda _m, a: captured.setdefault("z", a[0]))]):
        ids = torch.ones(1, 1, dtype=torch.long, device=device_of(model))
        forward(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    x, z = captured["x"].double().reshape(-1), captured["z"].double().reshape(-1)
    rows = weight_rows(model, site.qkv).double()
    bias = weight_rows(model, site.qkv, "bias") if getattr(fused, "bias", None) is not None else None
    layouts = ["blocked"] + (["per_head"] if site.n_kv_heads == site.n_heads else [])
    for layout in layouts:
        v_rows = _fused_rows(rows, site, layout)[2]
        value = v_rows @ x + (_fused_rows(bias.detach().double(), site, layout)[2] if bias is not None else 0)
        value = value.view(site.n_kv_heads, site.d_head).repeat_interleave(site.n_heads // site.n_kv_heads, 0)
        if torch.allclose(value.reshape(-1), z, rtol=1e-2, atol=1e-2 * float(z.abs().max()) + 1e-6):
            return layout
    raise BadInputError(f"{site.qkv}: the fused q/k/v projection matches neither the blocked nor the per-head "
                        "layout; pass arch=Architecture(..., layer_weights=...) reading its weights")


def _site_weights(site: AttentionSite, layouts: dict[str, str]) -> Callable[[nn.Module, int], HeadWeights]:
    def weights(model: nn.Module) -> HeadWeights:
        h, kv = site.n_heads, site.n_kv_heads
        if site.qkv is not None:
            if site.qkv not in layouts:
                layouts[site.qkv] = _fused_layout(model, site)
            q, k, v = _fused_rows(weight_rows(model, site.qkv), site, layouts[site.qkv])
        else:
            q, k, v = (weight_rows(model, n) for n in (site.q, site.k, site.v))
        group = h // kv
        w_k = _split_rows(k, kv).repeat_interleave(group, 0)  # (heads, d_model, d_head): query head h reads kv h//g
        w_v = _split_rows(v, kv).repeat_interleave(group, 0)
        return _split_rows(q, h), w_k, w_v, _split_cols(weight_rows(model, site.head_input), h)
    return weights


def _discovered(model: nn.Module) -> Architecture:
    structure = discover(model)
    self_sites = [s for s in structure.sites if not s.cross]
    cross_sites = [s for s in structure.sites if s.cross]
    if len({s.n_heads for s in self_sites}) != 1:
        raise BadInputError(f"{type(model).__name__}: layers with different head counts "
                            f"({sorted({s.n_heads for s in self_sites})}) are not supported")
    config = getattr(model, "config", None)
    encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    # a seq2seq's decoder is causal; otherwise the attention modules say it (Hugging Face's `is_causal`:
    # False in BERT-style encoders); a model whose modules do not say is taken as a causal decoder
    attention = model.get_submodule(self_sites[0].name)
    flags = [m.is_causal for m in attention.modules() if isinstance(getattr(m, "is_causal", None), bool)]
    causal = encoder_decoder or (flags[0] if flags else True)
    layouts = _LAYOUTS.setdefault(model, {})
    per_layer = [_site_weights(s, layouts) for s in self_sites]
    return Architecture(
        family=getattr(config, "model_type", None) or type(model).__name__, n_layers=len(self_sites),
        n_heads=self_sites[0].n_heads, blocks=structure.blocks, head_inputs=tuple(s.head_input for s in self_sites),
        causal=causal, embed=structure.embed, unembed=structure.unembed,
        layer_weights=lambda m, layer: per_layer[layer](m), mlp_outputs=structure.mlp_outputs,
        cross_head_inputs=tuple(s.head_input for s in cross_sites), stacks=structure.stacks,
        stack_of_block=structure.stack_of_block, encoder_decoder=encoder_decoder,
        layer_stack=tuple(structure.stack_of_block[structure.blocks.index(s.block)] for s in self_sites),
        discovered=True)


# fused q/k/v layouts found per model (one small forward each), kept while the model lives
_LAYOUTS: weakref.WeakKeyDictionary[nn.Module, dict[str, str]] = weakref.WeakKeyDictionary()


def architecture(model: nn.Module, arch: Architecture | None = None) -> Architecture:
    """The model's `Architecture`: `arch` when given, else read from the model's modules."""
    if arch is not None:
        return arch
    if not isinstance(model, nn.Module):
        raise BadInputError(f"expected a torch nn.Module; got {type(model).__name__}")
    return _discovered(model)


__all__ = ["Architecture", "HeadWeights", "architecture", "linear_shape", "weight_rows"]
