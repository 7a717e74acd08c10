"""Whether a file is a checkpoint the weights lens reads (bundle detection asks `sniff`): safetensors
files and their sharded index, and PyTorch files (read with torch.load(weights_only=True))."""

from __future__ import annotations

from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin", ".pt", ".pth", ".ckpt")


def sniff(path: Path) -> bool:
    return path.is_file() and path.name.endswith(WEIGHT_SUFFIXES)
