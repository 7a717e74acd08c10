"""A small vision transformer trained on the zoo task, for the tests of CAM methods on token outputs.

A convolutional stem (three strided convolutions, Xiao et al. 2021's "early convolutions", which make a
small ViT train in a few epochs) turns a 64 px image into 8 x 8 patch tokens; a class token and learned
position embeddings join them; two pre-norm transformer blocks (`norm1`, attention, `norm2`, MLP); the
final norm; the mean of the patch tokens goes to the classifier. Trained for the test session only.
"""

from __future__ import annotations

import torch
from torch import nn

from fourlens.demo.zoo import CLASSES, fit_on_zoo


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ZooViT(nn.Module):
    def __init__(self, dim: int = 48, depth: int = 2, heads: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.GELU(), nn.Conv2d(16, 32, 3, 2, 1), nn.GELU(),
                                  nn.Conv2d(32, dim, 2, 2))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + 64, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.stem(x).flatten(2).transpose(1, 2)  # (n, 64, dim): the 8 x 8 patches in raster order
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1) + self.pos_embed
        hidden = self.norm(self.blocks(tokens))
        return self.head(hidden[:, 1:].mean(dim=1))


def train_zoo_vit(n: int = 2000, epochs: int = 4, batch_size: int = 50, lr: float = 3e-3, seed: int = 0
                  ) -> tuple[ZooViT, float]:
    """(model in eval mode, accuracy on 400 held-out images), trained as the zoo CNN is (`fit_on_zoo`)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ZooViT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    return fit_on_zoo(model, optimizer, seed, n, epochs, batch_size, lr)
