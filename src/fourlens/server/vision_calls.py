"""Every call the vision playground makes into `fourlens.vision` (and the zoo demo model), in one module,
so a rename in the vision lens is followed here only. The playground's model is the zoo CNN
(`fourlens.demo.zoo`: trained on first use in well under a minute, then cached); its images are zoo
images, or one the user uploads (PNG or JPEG, checked and decoded here, never unpickled)."""

from __future__ import annotations

import base64
import io
from typing import Any

from fourlens.errors import BadInputError

GALLERY_SIZE = 24
GALLERY_SEED = 7
INDEX_IMAGES = 400          # zoo images the top-9 search runs over
INDEX_SEED = 20_000
MAX_PIXELS = 4096 * 4096    # refuse decompression bombs before decoding
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
DEFAULT_METHODS = ("saliency", "integrated_gradients", "grad_cam", "occlusion")


def methods() -> list[str]:
    from fourlens.vision import METHODS

    return list(METHODS)


def classes() -> list[str]:
    from fourlens.demo.zoo import CLASSES

    return list(CLASSES)


def model() -> Any:
    """The zoo model in eval mode (trained and cached on first use)."""
    from fourlens.demo.zoo import zoo_model

    return zoo_model(progress=False)


def image_size() -> int:
    from fourlens.demo.zoo import IMAGE_SIZE

    return IMAGE_SIZE


def gallery() -> Any:
    """(GALLERY_SIZE, 3, 64, 64) zoo images in [0, 1], the same on every start."""
    from fourlens.demo.zoo import make_zoo

    return make_zoo(GALLERY_SIZE, seed=GALLERY_SEED).images


def index_images() -> Any:
    """The (INDEX_IMAGES, 3, 64, 64) zoo images the top-9 search runs over."""
    from fourlens.demo.zoo import make_zoo

    return make_zoo(INDEX_IMAGES, seed=INDEX_SEED).images


def layers(net: Any) -> list[dict]:
    """The conv layers a user can pick (named as in `named_modules()`), with their channel counts."""
    from torch import nn

    return [{"name": name, "channels": int(module.out_channels)} for name, module in net.named_modules()
            if isinstance(module, nn.Conv2d)]


def decode_upload(data: bytes, content_type: str) -> Any:
    """An uploaded PNG/JPEG as a (1, 3, 64, 64) tensor in [0, 1]; BadInputError for anything else."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    kind = content_type.split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES:
        raise BadInputError("upload a PNG or JPEG image (Content-Type image/png or image/jpeg); "
                            f"got {kind or 'none'!r}")
    if not data.startswith(IMAGE_TYPES[kind]):
        raise BadInputError(f"the upload is not a {kind.split('/')[1].upper()} file (its first bytes do not match)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise BadInputError(f"the image is {img.width} x {img.height} pixels; at most {MAX_PIXELS:,} pixels")
            size = image_size()
            rgb = img.convert("RGB").resize((size, size), Image.BILINEAR)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"the upload could not be decoded as an image ({exc})") from None
    return (torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).float() / 255).unsqueeze(0)


def png_base64(picture: Any) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def picture(image: Any) -> Any:
    """A (3, H, W) tensor in [0, 1] as a PIL image."""
    from fourlens.vision import present

    return present.to_pil(image)


def explain(net: Any, image: Any, names: list[str]) -> dict:
    """The prediction for one image (1, 3, H, W) and each method's map as an overlay (PNG, base64)."""
    import torch

    from fourlens.vision import METHODS

    with torch.no_grad():
        probabilities = net(image).softmax(1)[0]
    maps = []
    for name in names:
        result = METHODS[name](net, image, "top1", batch_size=32)
        maps.append({"method": name, "png": png_base64(result.overlay(image)[0])})
    top = int(probabilities.argmax())
    return {"class": classes()[top], "probability": float(probabilities[top]),
            "probabilities": {c: float(p) for c, p in zip(classes(), probabilities.tolist(), strict=True)},
            "maps": maps}


def activation_index(net: Any, images: Any) -> Any:
    """The top-9 images of every channel of every conv layer (`fourlens.vision.top_activations`)."""
    from fourlens.vision import top_activations

    return top_activations(net, images, [layer["name"] for layer in layers(net)], k=9)


def top_nine(index: Any, layer: str, channel: int, images: Any, net: Any) -> str:
    """A channel's top-9 crops with their deconvnet reconstructions beside them (PNG, base64)."""
    from fourlens.vision import top_grid

    return png_base64(top_grid(index, layer, images, [channel], model=net, cell=48))


def deconvnet(net: Any, image: Any, layer: str, channel: int) -> str:
    """The deconvnet projection of the channel's strongest activation on this image (PNG, base64)."""
    import torch

    from fourlens.vision import deconvnet_reconstruction

    signal = deconvnet_reconstruction(net, image, layer, channel)[0]   # (3, H, W), signed
    scale = signal.abs().max().clamp_min(1e-12)
    return png_base64(picture((0.5 + 0.5 * signal / scale).clamp(0, 1).to(torch.float32)))
