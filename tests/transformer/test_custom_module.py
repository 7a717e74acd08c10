"""Any nn.Module works once an Architecture names its parts: a nanoGPT-style decoder written here."""

from __future__ import annotations

import math

import torch
from torch import nn

from fourlens.transformer import Architecture, ablate_heads, attention, head_scores, logit_lens
from fourlens.transformer._arch import _split_cols, _split_rows


class SelfAttention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.attn_dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in self.qkv(x).split(d, dim=2))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        att = att.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        y = (self.attn_dropout(att) @ v).transpose(1, 2).reshape(b, s, d)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.attn = SelfAttention(d, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(x)  # the block's output is the residual stream


class Decoder(nn.Module):
    def __init__(self, vocab: int = 64, d: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(32, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def arch_of(model: Decoder) -> Architecture:
    def weights(m: Decoder, layer: int):
        block, d = m.blocks[layer].attn, 32
        w = block.qkv.weight
        return (_split_rows(w[:d], 4), _split_rows(w[d:2 * d], 4), _split_rows(w[2 * d:], 4),
                _split_cols(block.proj.weight, 4))

    return Architecture("nanogpt", 2, 4, blocks=("blocks.0", "blocks.1"),
                        head_inputs=("blocks.0.attn.proj", "blocks.1.attn.proj"),
                        causal=True, embed="wte", unembed="head", final_norm="ln_f", layer_weights=weights,
                        attention_probs=("blocks.0.attn.attn_dropout", "blocks.1.attn.attn_dropout"))


class CharTokenizer:
    all_special_ids: list[int] = []
    vocab_size = 64

    def __call__(self, texts, padding=True, return_tensors="pt"):
        ids = torch.tensor([[ord(c) - 32 for c in t] for t in texts])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def convert_ids_to_tokens(self, ids):
        return [chr(int(i) + 32) for i in ids]


def test_named_modules_give_attention_scores_and_lens():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Decoder()
    model.train()  # dropout on: the lens must switch to eval for its call and back
    arch, tokenizer = arch_of(model), CharTokenizer()
    result = attention(model, tokenizer, ["HELLO WORLD"], arch=arch)
    assert result.weights.shape == (2, 1, 4, 11, 11)
    assert torch.allclose(result.weights.sum(-1), torch.ones(2, 1, 4, 11), atol=1e-5)
    assert model.training
    table = head_scores(model, arch=arch, n_sequences=4, seq_len=30)
    assert len(table) == 8 and table.copying.notna().all()
    lens = logit_lens(model, tokenizer, "HELLO", arch=arch)
    with torch.no_grad():
        model.eval()
        probs = model(tokenizer(["HELLO"])["input_ids"])[0, -1].softmax(-1)
        model.train()
    assert abs(lens.table.answer_prob.iloc[-1] - float(probs.max())) < 1e-5
    ids = torch.randint(64, (1, 10), generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad(), ablate_heads(model, [(0, 0), (0, 1), (0, 2), (0, 3)], method="zero", arch=arch):
        ablated = model(ids)
    with torch.no_grad():
        x = model.wte(ids) + model.wpe(torch.arange(10))
        x = x + model.blocks[0].attn.proj.bias  # every head of layer 0 zeroed: only the projection's bias is added
        x = model.blocks[1](x)
        direct = model.head(model.ln_f(x))
    assert torch.allclose(ablated, direct, atol=1e-5)
