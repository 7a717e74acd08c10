"""Loading a user's classifier and images for the CLI: never unpickles by default (DESIGN.md)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from fourlens._torch import load_torch_file
from fourlens.errors import BadInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def load_model(spec: str, weights: Path | None = None, trust_pickle: bool = False) -> nn.Module:
    """The model in eval mode from `module:factory` (+ `weights`) or a TorchScript file."""
    path = Path(spec)
    if ":" not in spec or path.exists():
        if not path.exists():
            raise BadInputError(f"--model {spec}: give module:factory (a function returning the nn.Module) or a "
                                "TorchScript file")
        try:
            return torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as exc:
            raise BadInputError(f"{path} is not a TorchScript file ({exc.__class__.__name__}); save it with "
                                "torch.jit.script(model).save(path), or pass --model module:factory") from None
    module_name, _, factory_name = spec.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # let `--model mymodels:resnet` find ./mymodels.py
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise BadInputError(f"--model {spec}: cannot import {factory_name!r} from {module_name!r} ({exc})") from None
    model = factory()
    if not isinstance(model, nn.Module):
        raise BadInputError(f"--model {spec} returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        model.load_state_dict(load_state(weights, trust_pickle))
    return model.eval()


def load_state(path: Path, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """A plain state dict from .safetensors, or from .pt/.pth through `torch.load(weights_only=True)`
    (`fourlens._torch.load_torch_file`: a file that needs unpickling is refused with the advice to pass
    --trust-pickle, and torch's own warnings stay out of the terminal)."""
    if not path.is_file():
        raise BadInputError(f"--weights {path} does not exist")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise BadInputError(f"{path} is not a readable safetensors file ({exc})") from None
    state = load_torch_file(path, trust_pickle=trust_pickle)
    if not isinstance(state, dict):
        raise BadInputError(f"{path} holds a {type(state).__name__}, not a state dict; save model.state_dict() "
                            "(or convert it to .safetensors)")
    return state


def image_files(paths: list[Path]) -> list[Path]:
    """The image files named: a file as given, a folder's images sorted by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise BadInputError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise BadInputError(f"--image {path} does not exist")
    return files


def load_images(files: list[Path], size: int) -> torch.Tensor:
    """RGB images resized to size x size, as (n, 3, size, size) floats in [0, 1]."""
    out = []
    for path in files:
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB").resize((size, size), Image.BILINEAR)
        except (UnidentifiedImageError, OSError) as exc:
            raise BadInputError(f"{path} is not an image PIL can read ({exc})") from None
        out.append(torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).float() / 255)
    return torch.stack(out)
