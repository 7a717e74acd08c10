"""Read where a transformer keeps its parts from the module tree itself (no table per model family).

What the lens needs, and how it is found:
- residual blocks: every `nn.ModuleList` whose children share one class and each hold an attention
  module (a module whose class name says "Attention"); stacks nested in another stack's blocks are
  not stacks. An encoder-decoder has two (encoder, then decoder, in forward order).
- attention: per block, the outermost attention modules; one whose class or name says cross /
  encdec / encoder_attn reads the other stack (cross-attention), the others are self-attention.
- inside an attention module, the projections by the names the common codebases give them (q_proj,
  query, q, wq; k..., v...; fused c_attn, qkv_proj, query_key_value, Wqkv; output o_proj, out_proj,
  dense, c_proj, o, wo). The output projection's input is the heads' outputs side by side, so it
  gives the head width: d_head = in_features / n_heads, and the key/value width gives the number of
  key-value heads (grouped-query attention).
- the MLP output: the last linear map of the block outside the attention that maps a wider hidden
  layer back to d_model (down_proj, fc2, c_proj, dense_4h_to_h, wo, BERT's output.dense); its input is
  the MLP's hidden units.
- embedding and unembedding: `get_input_embeddings()` / `get_output_embeddings()` where the model has
  them (Hugging Face's API), else the widest `nn.Embedding` and the last linear map to the vocabulary.
The modules between the last block and the unembedding (final norm, OPT's project_out, ...) are found
at run time from the order in which the forward pass calls them (`fourlens.transformer._residual`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from fourlens.errors import BadInputError

Q_NAMES = {"q", "q_proj", "query", "wq", "q_lin"}
K_NAMES = {"k", "k_proj", "key", "wk", "k_lin"}
V_NAMES = {"v", "v_proj", "value", "wv", "v_lin"}
QKV_NAMES = {"qkv", "qkv_proj", "c_attn", "query_key_value", "wqkv", "w_pack"}
OUT_NAMES = {"o", "o_proj", "out_proj", "dense", "c_proj", "wo", "out_lin", "proj", "out"}
CROSS = re.compile(r"cross|encdec|encoder_attn", re.IGNORECASE)


@dataclass(frozen=True)
class AttentionSite:
    """One attention module: where its projections are, and its head layout."""

    name: str                 # the attention module
    block: str                # the residual block that holds it
    head_input: str           # output projection; its input is (batch, seq, n_heads * d_head)
    cross: bool
    n_heads: int
    n_kv_heads: int
    d_head: int
    q: str | None = None
    k: str | None = None
    v: str | None = None
    qkv: str | None = None    # fused projection (q, k and v in one matrix)


@dataclass(frozen=True)
class Structure:
    stacks: tuple[str, ...]             # ModuleList names, forward order
    blocks: tuple[str, ...]             # all blocks, forward order
    stack_of_block: tuple[int, ...]     # index into stacks per block
    sites: tuple[AttentionSite, ...]    # self-attention then cross-attention in block order
    mlp_outputs: tuple[str, ...]        # one per block that has an MLP
    embed: str | None
    unembed: str | None
    d_model: int | None


def linear_shape(module: nn.Module) -> tuple[int, int] | None:
    """(in_features, out_features) of an nn.Linear or a GPT-2-style Conv1D (weight stored (in, out))."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    weight = getattr(module, "weight", None)
    if type(module).__name__ == "Conv1D" and weight is not None and weight.dim() == 2:
        return int(weight.shape[0]), int(weight.shape[1])
    return None


def _is_attention(module: nn.Module) -> bool:
    return "attention" in type(module).__name__.lower()


def _heads_from_config(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for key in ("num_attention_heads", "n_heads", "n_head", "num_heads", "encoder_attention_heads"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _heads_of(module: nn.Module, fallback: int | None) -> int | None:
    for key in ("num_heads", "n_heads", "num_attention_heads", "n_head"):
        value = getattr(module, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return fallback


def _stacks(model: nn.Module) -> list[tuple[str, nn.ModuleList]]:
    found: list[tuple[str, nn.ModuleList]] = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        if any(name.startswith(s + ".") for s, _ in found):
            continue  # a list inside a block of a stack already found (T5's per-block `layer` list)
        children = list(module)
        if len({type(c) for c in children}) != 1:
            continue
        if all(any(_is_attention(m) for m in c.modules()) for c in children):
            found.append((name, module))
    return found


def _outermost_attention(block_name: str, block: nn.Module) -> list[tuple[str, nn.Module]]:
    out: list[tuple[str, nn.Module]] = []
    for name, module in block.named_modules():
        if name and _is_attention(module) and not any(name.startswith(o + ".") for o, _ in out):
            out.append((name, module))
    return [(f"{block_name}.{n}", m) for n, m in out]


def _site(name: str, block_name: str, module: nn.Module, heads: int | None) -> AttentionSite:
    roles: dict[str, str] = {}
    for sub, child in module.named_modules():
        if not sub or linear_shape(child) is None:
            continue
        leaf = sub.rsplit(".", 1)[-1].lower()
        for role, names in (("q", Q_NAMES), ("k", K_NAMES), ("v", V_NAMES), ("qkv", QKV_NAMES),
                            ("out", OUT_NAMES)):
            if leaf in names:
                roles[role] = f"{name}.{sub}"  # the last one registered wins (BERT: output.dense)
    heads = _heads_of(module, heads)
    for sub, child in module.named_modules():  # e.g. T5Attention under T5LayerSelfAttention
        if heads is None and sub:
            heads = _heads_of(child, None)
    if "out" not in roles or heads is None or not ({"q", "k", "v"} <= roles.keys() or "qkv" in roles):
        raise BadInputError(f"cannot tell the head layout of {name} ({type(module).__name__}): fourlens looks "
                            "for q/k/v (or fused qkv) and output projections by their usual names and for "
                            "the number of heads in the config; pass arch=Architecture(...) naming them")
    d_in = linear_shape(module.get_submodule(roles["out"][len(name) + 1:]))[0]
    if d_in % heads:
        raise BadInputError(f"{roles['out']} takes {d_in} features, not a multiple of {heads} heads")
    d_head = d_in // heads
    if "qkv" in roles and not {"q", "k", "v"} <= roles.keys():
        fused_out = linear_shape(module.get_submodule(roles["qkv"][len(name) + 1:]))[1]
        kv = (fused_out // d_head - heads) // 2
        return AttentionSite(name, block_name, roles["out"], bool(CROSS.search(name + type(module).__name__)),
                             heads, kv, d_head, qkv=roles["qkv"])
    kv_out = linear_shape(module.get_submodule(roles["k"][len(name) + 1:]))[1]
    return AttentionSite(name, block_name, roles["out"], bool(CROSS.search(name + type(module).__name__)),
                         heads, kv_out // d_head, d_head, q=roles["q"], k=roles["k"], v=roles["v"])


def _mlp_output(block_name: str, block: nn.Module, attention: list[str], d_model: int | None) -> str | None:
    best = None
    for sub, child in block.named_modules():
        full = f"{block_name}.{sub}"
        shape = linear_shape(child)
        if shape is None or any(full == a or full.startswith(a + ".") for a in attention):
            continue
        d_in, d_out = shape
        if d_in > d_out and (d_model is None or d_out == d_model):
            best = full
    return best


def _name_of(model: nn.Module, target: nn.Module | None) -> str | None:
    if target is None:
        return None
    return next((n for n, m in model.named_modules() if m is target), None)


def _embeddings(model: nn.Module, blocks: tuple[str, ...]) -> tuple[str | None, str | None]:
    getter = getattr(model, "get_input_embeddings", None)
    embed = _name_of(model, getter()) if callable(getter) else None
    getter = getattr(model, "get_output_embeddings", None)
    unembed = _name_of(model, getter()) if callable(getter) else None
    if embed is None:
        tables = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Embedding)]
        embed = max(tables, key=lambda t: t[1].num_embeddings)[0] if tables else None
    if unembed is None and embed is not None and not callable(getattr(model, "get_output_embeddings", None)):
        vocab = model.get_submodule(embed).num_embeddings
        outside = [n for n, m in model.named_modules() if (s := linear_shape(m)) is not None and s[1] == vocab
                   and not any(n.startswith(b + ".") for b in blocks)]
        unembed = outside[-1] if outside else None
    return embed, unembed


def discover(model: nn.Module) -> Structure:
    """The structure of `model` read from its modules; BadInputError naming what is missing."""
    stacks = _stacks(model)
    if not stacks:
        raise BadInputError(f"found no stack of transformer blocks in {type(model).__name__} (an nn.ModuleList of "
                            "blocks that each hold a module whose class name contains 'Attention'); pass "
                            "arch=Architecture(...) naming its blocks and attention output projections")
    heads = _heads_from_config(model)
    blocks, stack_of, self_sites, cross_sites, mlps = [], [], [], [], []
    embed, unembed = _embeddings(model, tuple(f"{s}.{i}" for s, lst in stacks for i in range(len(lst))))
    d_model = model.get_submodule(embed).embedding_dim if embed and isinstance(
        model.get_submodule(embed), nn.Embedding) else None
    for index, (stack_name, stack) in enumerate(stacks):
        for i, block in enumerate(stack):
            block_name = f"{stack_name}.{i}"
            blocks.append(block_name)
            stack_of.append(index)
            attention = _outermost_attention(block_name, block)
            for name, module in attention:
                site = _site(name, block_name, module, heads)
                (cross_sites if site.cross else self_sites).append(site)
            mlp = _mlp_output(block_name, block, [n for n, _ in attention], d_model)
            if mlp is not None:
                mlps.append(mlp)
    return Structure(tuple(n for n, _ in stacks), tuple(blocks), tuple(stack_of),
                     tuple(self_sites) + tuple(cross_sites), tuple(mlps), embed, unembed, d_model)
