"""`deep_dream`: amplify what a layer already sees in a real image (Mordvintsev, Olah & Tyka 2015,
"Inceptionism: Going Deeper into Neural Networks", and their DeepDream code).

Starting from the image, gradient ascent raises the L2 norm (or the mean) of one layer's activations,
or of one channel, so whatever the layer faintly detects gets stronger. Octaves make it work at several
scales: the image is shrunk `octaves - 1` times by `octave_scale`; the ascent runs first on the
smallest copy, and the *detail* it added (dreamed image minus that copy) is upscaled and added to the
next larger copy before its own ascent, up to the full size. Each step rolls the image by a random
jitter, takes x <- x + lr * g / mean|g| (the normalized step of the DeepDream code, so `lr` is in
input units), rolls back, and clips to the value range of the input image (the code clips to the
valid pixel range). The forward pass stops at `layer`; later layers never run. The model runs in
eval mode and is left exactly as found.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from fourlens._progress import steps_bar
from fourlens.errors import BadInputError
from fourlens.vision._trace import check_channel, layer_output
from fourlens.vision.attribution._common import require_eager, resolve_layer
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.fourier import make_parameterization
from fourlens.vision.present import to_pil

OBJECTIVES = ("l2", "mean")
DREAM_LR = {"pixel": 0.01, "fourier": 0.01}
MIN_OCTAVE_SIDE = 8  # smaller copies say little to a CNN and break strided layers


@dataclass(frozen=True)
class Dream:
    """`image` the dreamed image, shaped like the input; `original` the input; `trace` the objective per
    step (at each octave's resolution, before each update); `start` / `end` the objective of the
    original and of the dreamed image at full size."""

    image: torch.Tensor
    original: torch.Tensor
    trace: tuple[float, ...]
    start: float
    end: float
    layer: str
    channel: int | None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "deep_dream", "layer": self.layer, "channel": self.channel,
                "shape": list(self.image.shape), "trace": list(self.trace), "start": self.start, "end": self.end,
                "params": dict(self.params)}

    def to_pil(self, which: str = "image"):  # -> PIL.Image.Image
        """The dreamed image (or `which="original"`), shown on the original's value range."""
        low, high = self.original.min(), self.original.max()
        picture = (self.image if which == "image" else self.original).detach().float().reshape(
            self.original.shape[-3:])
        return to_pil((picture - low) / (high - low).clamp_min(1e-12))

    def _repr_html_(self) -> str:
        tiles = []
        for which in ("original", "image"):
            buffer = io.BytesIO()
            self.to_pil(which).resize((160, 160)).save(buffer, format="PNG")
            tiles.append(f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>")
        what = self.layer if self.channel is None else f"{self.layer}[{self.channel}]"
        return (f"<div><b>deep dream</b> on {what}: objective {self.start:.3f} &rarr; {self.end:.3f}<br>"
                f"{' '.join(tiles)}</div>")


def deep_dream(model: nn.Module, image: torch.Tensor, layer: str | nn.Module, octaves: int = 3,
               octave_scale: float = 1.4, steps_per_octave: int = 20, lr: float | None = None, jitter: int = 4,
               channel: int | None = None, objective: str = "l2", clip: tuple[float, float] | None | str = "input",
               seed: int = 0, parameterization: str = "pixel", progress: bool = True) -> Dream:
    """Dream on `image` ((C, H, W) or (1, C, H, W), on the model's device) at `layer` (a
    `named_modules()` name or the module): gradient ascent on mean(a^2) ("l2") or mean(a) ("mean") of
    the layer's output `a`, or of its channel `channel`, over `octaves` scales `octave_scale` apart,
    `steps_per_octave` steps each. `clip`: "input" keeps values in the input's [min, max], a (low, high)
    pair in that range, None does not clip. `parameterization="fourier"` ascends on the image's 1/f-scaled,
    colour-decorrelated spectrum instead of its pixels (Olah et al. 2017; see `fourier`); `lr` defaults
    to 0.01 for both. Deterministic in `seed` (the jitter)."""
    if parameterization not in DREAM_LR:
        raise BadInputError(f"parameterization must be one of {', '.join(DREAM_LR)}; got {parameterization!r}")
    pixel = parameterization == "pixel"
    lr = DREAM_LR[parameterization] if lr is None else lr
    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4) or (image.ndim == 4 and image.shape[0] != 1):
        raise BadInputError(f"image must be one image (C, H, W) or (1, C, H, W); got "
                            f"{tuple(getattr(image, 'shape', ())) or type(image).__name__}")
    for label, value in (("octaves", octaves), ("steps_per_octave", steps_per_octave)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInputError(f"{label} must be an int >= 1; got {value!r}")
    if not octave_scale > 1:
        raise BadInputError(f"octave_scale must be > 1 (each octave is this much smaller); got {octave_scale!r}")
    if not lr > 0:
        raise BadInputError(f"lr must be > 0; got {lr!r}")
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise BadInputError(f"jitter must be an int >= 0 (pixels); got {jitter!r}")
    if objective not in OBJECTIVES:
        raise BadInputError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int)):
        raise BadInputError(f"channel must be an int or None; got {channel!r}")
    require_eager(model, "deep_dream")
    name, module = resolve_layer(model, layer)
    base = image.detach().reshape(1, *image.shape[-3:])
    if not base.is_floating_point():
        raise BadInputError(f"image must be a float tensor; got {base.dtype}")
    height, width = base.shape[-2:]
    sizes = [(round(height / octave_scale ** i), round(width / octave_scale ** i)) for i in range(octaves)]
    if min(sizes[-1]) < MIN_OCTAVE_SIDE:
        raise BadInputError(f"the smallest octave would be {sizes[-1][0]} x {sizes[-1][1]} pixels; use fewer "
                            f"octaves or a smaller octave_scale (each side must stay >= {MIN_OCTAVE_SIDE})")
    if clip == "input":
        bounds: tuple[float, float] | None = (float(base.min()), float(base.max()))
    elif clip is None:
        bounds = None
    else:
        try:
            bounds = (float(clip[0]), float(clip[1]))  # type: ignore[index]
        except (TypeError, ValueError, IndexError):
            raise BadInputError(f"clip must be 'input', None or (low, high); got {clip!r}") from None

    def score(x: torch.Tensor) -> torch.Tensor:
        a = layer_output(model, module, name, x)
        if channel is not None:
            check_channel(a, channel, name)
            a = a[:, channel]
        return a.pow(2).mean() if objective == "l2" else a.mean()

    g = torch.Generator().manual_seed(seed)
    # Copies from the full size down: antialiased so the small ones are not aliased.
    copies = [base] + [F.interpolate(base, size=s, mode="bilinear", align_corners=False, antialias=True)
                       for s in sizes[1:]]
    trace: list[float] = []
    with untouched(model):
        model.eval()
        with torch.no_grad():
            start = float(score(base))
        detail = torch.zeros_like(copies[-1])
        with steps_bar(octaves * steps_per_octave, f"dreaming {name}", progress) as advance:
            for copy in reversed(copies):
                if detail.shape[-2:] != copy.shape[-2:]:
                    detail = F.interpolate(detail, size=copy.shape[-2:], mode="bilinear", align_corners=False)
                image_of = make_parameterization(parameterization, tuple(copy.shape), copy.device, copy.dtype)
                p = image_of.from_image(copy + detail)
                for _ in range(steps_per_octave):
                    p = p.detach().requires_grad_(True)
                    dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=g).tolist() if jitter else (0, 0)
                    value = score(torch.roll(image_of.to_image(p), shifts=(dy, dx), dims=(2, 3)))
                    (grad,) = torch.autograd.grad(value, p)  # through the roll: back in x's frame
                    trace.append(float(value.detach()))
                    with torch.no_grad():
                        # the image moves by lr per pixel on average, whatever the parameterization: a dream
                        # must stay close to its image, so the Fourier step gets the pixel step's budget
                        move = grad if pixel else image_of.to_image(grad)
                        p = p + lr * grad / move.abs().mean().clamp_min(1e-12)
                        if bounds is not None:
                            p = image_of.from_image(image_of.to_image(p).clamp(*bounds))
                    advance()
                with torch.no_grad():
                    x = image_of.to_image(p)
                detail = x - copy
        with torch.no_grad():
            end = float(score(x))
    params = dict(octaves=octaves, octave_scale=octave_scale, steps_per_octave=steps_per_octave, lr=lr,
                  jitter=jitter, objective=objective, clip=None if bounds is None else list(bounds), seed=seed,
                  parameterization=parameterization)
    return Dream(image=x.detach().reshape(image.shape), original=image.detach(), trace=tuple(trace), start=start,
                 end=end, layer=name, channel=channel, params=params)
