"""Fixtures for the weights lens: small checkpoints written by safetensors and torch.save."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file


def block_state(n_layers: int = 6, width: int = 16, seed: int = 0, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """A transformer-like state dict: embeddings, n blocks (q, k, mlp, norm), a final norm."""
    generator = torch.Generator().manual_seed(seed)
    state = {"model.embed_tokens.weight": torch.randn(50, width, generator=generator)}
    for layer in range(n_layers):
        prefix = f"model.layers.{layer}"
        state[f"{prefix}.self_attn.q_proj.weight"] = torch.randn(width, width, generator=generator)
        state[f"{prefix}.self_attn.k_proj.weight"] = torch.randn(width, width, generator=generator)
        state[f"{prefix}.mlp.up_proj.weight"] = torch.randn(2 * width, width, generator=generator)
        state[f"{prefix}.input_layernorm.weight"] = torch.ones(width)
    state["model.norm.weight"] = torch.ones(width)
    return {name: tensor.to(dtype) for name, tensor in state.items()}


def perturbed(state: dict[str, torch.Tensor], scale: float = 0.01, seed: int = 1,
              layer_scales: dict[int, float] | None = None) -> dict[str, torch.Tensor]:
    """`state` plus Gaussian noise of relative size `scale` (times `layer_scales[i]` in layer i)."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in state.items():
        factor = scale
        for layer, extra in (layer_scales or {}).items():
            if name.startswith(f"model.layers.{layer}."):
                factor *= extra
        noise = torch.randn(tensor.shape, generator=generator) * factor * tensor.float().std().clamp_min(1e-3)
        out[name] = (tensor.float() + noise).to(tensor.dtype)
    return out


@pytest.fixture
def write_st(tmp_path: Path):
    def write(name: str, state: dict[str, torch.Tensor]) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
        return path

    return write
