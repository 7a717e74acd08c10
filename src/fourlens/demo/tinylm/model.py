"""The TinyLM: a tiny attention-only decoder (token + learned position embeddings, residual attention
blocks, an untied unembedding), and its configuration. How it is trained: `fourlens.demo.tinylm.training`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from fourlens.errors import BadInputError


@dataclass(frozen=True)
class TinyLMConfig:
    vocab_size: int = 128
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    context: int = 64

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if min(self.vocab_size, self.d_model, self.n_layers, self.n_heads, self.context) < 1:
            raise ValueError(f"every TinyLMConfig field must be positive; got {self}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class TinyLMOutput:
    """What `TinyLM.forward` returns, named like Hugging Face's outputs so the lens treats both alike."""

    logits: torch.Tensor                               # (batch, seq, vocab)
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (batch, heads, query, key)
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings, then after each layer (batch, seq, d)


class Attention(nn.Module):
    """Causal multi-head attention without biases. `head_output` (an identity) sees the per-head
    results (batch, seq, heads, d_head) before the output projection, so hooks can ablate or patch
    single heads."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = config.n_heads, config.d_head
        self.q = nn.Linear(config.d_model, config.d_model, bias=False)
        self.k = nn.Linear(config.d_model, config.d_model, bias=False)
        self.v = nn.Linear(config.d_model, config.d_model, bias=False)
        self.o = nn.Linear(config.d_model, config.d_model, bias=False)
        self.head_output = nn.Identity()
        mask = torch.ones(config.context, config.context, dtype=torch.bool).tril()
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, seq, _ = x.shape
        # (batch, seq, d_model) -> (batch, heads, seq, d_head)
        q, k, v = (proj(x).view(batch, seq, self.n_heads, self.d_head).transpose(1, 2)
                   for proj in (self.q, self.k, self.v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # (batch, heads, query, key)
        scores = scores.masked_fill(~self.causal_mask[:seq, :seq], float("-inf"))
        pattern = scores.softmax(dim=-1)
        z = (pattern @ v).transpose(1, 2)  # (batch, seq, heads, d_head)
        z = self.head_output(z)
        return self.o(z.reshape(batch, seq, -1)), pattern


class Block(nn.Module):
    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.attn = Attention(config)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, pattern = self.attn(x)
        return x + out, pattern


class TinyLM(nn.Module):
    """Attention-only decoder: token + learned position embeddings, residual attention blocks, an
    untied unembedding. No LayerNorm (the measured recipe; `final_norm` is an identity so the logit
    lens reads it like any model's final norm)."""

    def __init__(self, config: TinyLMConfig | None = None) -> None:
        super().__init__()
        self.config = config or TinyLMConfig()
        c = self.config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_embed = nn.Embedding(c.context, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.final_norm = nn.Identity()
        self.unembed = nn.Linear(c.d_model, c.vocab_size, bias=False)
        nn.init.normal_(self.embed.weight, std=0.1)
        nn.init.normal_(self.pos_embed.weight, std=0.1)

    # the accessors Hugging Face models have, so any tool (the transformer lens included) finds the tables
    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def get_output_embeddings(self) -> nn.Linear:
        return self.unembed

    def forward(self, input_ids: torch.Tensor, output_attentions: bool = False,
                output_hidden_states: bool = False, **_: object) -> TinyLMOutput:
        if input_ids.dim() != 2:
            raise BadInputError(f"TinyLM expects input_ids of shape (batch, seq); got {tuple(input_ids.shape)}")
        seq = input_ids.shape[1]
        if seq > self.config.context:
            raise BadInputError(f"TinyLM's context is {self.config.context} tokens; got {seq}. Shorten the input")
        positions = torch.arange(seq, device=input_ids.device)
        x = self.embed(input_ids) + self.pos_embed(positions)  # (batch, seq, d_model)
        hidden, patterns = [x], []
        for block in self.blocks:
            x, pattern = block(x)
            hidden.append(x)
            patterns.append(pattern)
        logits = self.unembed(self.final_norm(x))
        return TinyLMOutput(logits=logits, attentions=tuple(patterns) if output_attentions else None,
                            hidden_states=tuple(hidden) if output_hidden_states else None)


def make_model(config: TinyLMConfig, seed: int) -> TinyLM:
    with torch.random.fork_rng(devices=[]):  # seeding here leaves the global RNG as it was
        torch.manual_seed(seed)
        return TinyLM(config)
