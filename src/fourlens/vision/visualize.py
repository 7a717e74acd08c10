"""Activation maximization: the input a network "wants to see" for a class or a neuron.

`class_model_visualization` is the class model of Simonyan, Vedaldi & Zisserman 2014 ("Deep Inside
Convolutional Networks", section 2): gradient ascent on the input image x maximizing the pre-softmax
class score minus an L2 penalty, s_c(x) - lambda ||x||^2 (the softmax probability is not maximized
because it can rise by pushing other classes down). `neuron_visualization` maximizes any activation
a_j^[l](x) instead (a channel's spatial mean, or one unit at a position), with the forward pass stopped
at layer l.

Both share one engine with the regularizers of Yosinski, Clune, Nguyen, Fuchs & Lipson 2015
("Understanding Neural Networks Through Deep Visualization", section 3), applied after each step:
L2 decay (here as the lambda ||x||^2 term of the objective, whose gradient step is the decay
x <- (1 - 2 lr lambda) x), Gaussian blur every `blur_every` steps, zeroing pixels whose norm over
channels is below the `clip_pixel_norm` percentile, zeroing pixels whose contribution
|sum_c x * d objective / d x| is below the `clip_contribution` percentile, and random jitter (the image
is rolled by up to `jitter` pixels before each forward pass, so the gradient lands back unrolled).
Each step is x <- x + lr * g / mean|g| (g the gradient of the regularized objective; the normalization
of DeepDream, Mordvintsev et al. 2015), so `lr` is in input units and one setting fits any model.

Only the input is optimized: the model's parameters, their requires_grad/.grad, modes and buffers are
left exactly as found (`untouched`).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
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

DEFAULT_SIZE = 64  # side of the image when input_shape is not given (the zoo model's size)
# Default step per parameterization: a step on the 1/f-scaled spectrum moves the low frequencies of the
# image far more than a pixel step (its update is the gradient filtered by 1/f^2), so it is 3x smaller.
DEFAULT_LR = {"pixel": 0.03, "fourier": 0.01}
MAX_MOVE = 0.3  # a Fourier step moves the image at most this much per pixel on average


@dataclass(frozen=True)
class Visualization:
    """`image` (1, C, H, W) in the model's input space; `trace` the objective per step (before each update);
    `probability` the final softmax probability of the target class (None for a neuron: the forward
    pass stops at its layer); `activation` the final un-regularized score or activation."""

    image: torch.Tensor
    trace: tuple[float, ...]
    probability: float | None
    activation: float
    kind: str
    target: Any
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "shape": list(self.image.shape),
                "trace": list(self.trace), "probability": self.probability, "activation": self.activation,
                "params": dict(self.params)}

    def to_pil(self):  # -> PIL.Image.Image
        """The image min-max scaled to [0, 1] per image (the input space need not be [0, 1])."""
        image = self.image[0].detach().float()
        low, high = image.min(), image.max()
        return to_pil((image - low) / (high - low).clamp_min(1e-12))

    def _repr_html_(self) -> str:
        buffer = io.BytesIO()
        self.to_pil().resize((128, 128)).save(buffer, format="PNG")
        data = base64.b64encode(buffer.getvalue()).decode()
        prob = "" if self.probability is None else f", p = {self.probability:.3f}"
        return (f"<div><b>{self.kind} visualization</b> of {self.target}{prob}, "
                f"activation {self.activation:.3f}<br><img src='data:image/png;base64,{data}'/></div>")


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur per channel, radius 3 sigma, reflect padding; x (1, C, H, W)."""
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # along H


def _zero_below_percentile(x: torch.Tensor, score: torch.Tensor, percentile: float) -> torch.Tensor:
    """Zero the pixels (all channels) whose score (1, H, W) is below its `percentile`."""
    threshold = torch.quantile(score.flatten().float(), percentile / 100.0).to(score.dtype)
    return x * (score >= threshold).unsqueeze(1).to(x.dtype)


def _check_params(steps: int, lr: float, l2: float, jitter: int, blur_every: int, blur_sigma: float,
                  clip_pixel_norm: float, clip_contribution: float) -> None:
    if not isinstance(steps, int) or steps < 1:
        raise BadInputError(f"steps must be an int >= 1; got {steps!r}")
    if not lr > 0:
        raise BadInputError(f"lr must be > 0; got {lr!r}")
    if not l2 >= 0:
        raise BadInputError(f"l2 must be >= 0; got {l2!r}")
    if not isinstance(jitter, int) or jitter < 0:
        raise BadInputError(f"jitter must be an int >= 0 (pixels); got {jitter!r}")
    if not isinstance(blur_every, int) or blur_every < 0:
        raise BadInputError(f"blur_every must be an int >= 0 (0 turns blurring off); got {blur_every!r}")
    if blur_every and not blur_sigma > 0:
        raise BadInputError(f"blur_sigma must be > 0; got {blur_sigma!r}")
    for name, value in (("clip_pixel_norm", clip_pixel_norm), ("clip_contribution", clip_contribution)):
        if not 0 <= value < 100:
            raise BadInputError(f"{name} is a percentile in [0, 100) (0 turns it off); got {value!r}")


def _default_lr(parameterization: str, lr: float | None) -> float:
    if parameterization not in DEFAULT_LR:
        raise BadInputError(f"parameterization must be one of {', '.join(DEFAULT_LR)}; got {parameterization!r}")
    return DEFAULT_LR[parameterization] if lr is None else lr


def _input_shape(model: nn.Module, input_shape: tuple[int, ...] | None) -> tuple[int, int, int, int]:
    if input_shape is None:
        conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        if conv is None:
            raise BadInputError("cannot guess the input shape (the model has no Conv2d); pass "
                                "input_shape=(C, H, W)")
        return (1, conv.in_channels, DEFAULT_SIZE, DEFAULT_SIZE)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) != 3 or min(shape) < 1:
        raise BadInputError(f"input_shape must be (C, H, W) or (1, C, H, W); got {input_shape!r}")
    return (1, *shape)  # type: ignore[return-value]


def _ascend(model: nn.Module, objective: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...],
            steps: int, lr: float, l2: float, jitter: int, blur_every: int, blur_sigma: float,
            clip_pixel_norm: float, clip_contribution: float, seed: int, parameterization: str = "pixel",
            progress: bool = False, description: str = "visualizing") -> tuple[torch.Tensor, list[float]]:
    """Gradient ascent for objective(x) - l2 ||x||^2 with the Yosinski et al. 2015 regularizers, on the
    pixels or on a Fourier/decorrelated parameterization of x (Olah et al. 2017, see `fourier`)."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    image_of = make_parameterization(parameterization, shape, device, dtype)
    g = torch.Generator().manual_seed(seed)
    # Simonyan et al. start from the (zero-centred) mean image; small noise breaks symmetry.
    p = image_of.init(g, 0.01).to(device=device, dtype=dtype)
    pixel = parameterization == "pixel"
    trace: list[float] = []
    with steps_bar(steps, description, progress) as advance:
        for step in range(steps):
            p = p.detach().requires_grad_(True)
            x = image_of.to_image(p)
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=g).tolist() if jitter else (0, 0))
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3)) if jitter else x
            value = objective(shifted) - l2 * (x * x).sum()
            if pixel:
                (grad,) = torch.autograd.grad(value, p)
                grad_x = grad
            else:
                grad, grad_x = torch.autograd.grad(value, [p, x])
            trace.append(float(value.detach()))
            with torch.no_grad():
                # DeepDream-style normalized step (Mordvintsev et al. 2015): lr is in parameter units per
                # step, so one setting works whatever the scale of the score's gradient.
                step_p = lr * grad / grad.abs().mean().clamp_min(1e-12)
                if not pixel:
                    # A Fourier gradient can sit in a few coefficients (a neuron that likes one colour
                    # lifts the DC term), where dividing by its own mean makes one huge step: the image
                    # moves at most MAX_MOVE per pixel on average per step (a trust region in pixels).
                    move = image_of.to_image(step_p).abs().mean()
                    step_p = step_p * (MAX_MOVE / move).clamp(max=1.0)
                p = p + step_p
                blur = bool(blur_every) and (step + 1) % blur_every == 0
                if blur or clip_pixel_norm or clip_contribution:
                    x = image_of.to_image(p)
                    if blur:
                        x = _gaussian_blur(x, blur_sigma)
                    if clip_pixel_norm:
                        x = _zero_below_percentile(x, x.norm(dim=1), clip_pixel_norm)
                    if clip_contribution:
                        x = _zero_below_percentile(x, (x * grad_x).sum(dim=1).abs(), clip_contribution)
                    p = image_of.from_image(x)
            advance()
    with torch.no_grad():
        return image_of.to_image(p).detach(), trace


def class_model_visualization(model: nn.Module, target: int, steps: int = 200, lr: float | None = None,
                              l2: float = 0.001, jitter: int = 2, blur_every: int = 4, blur_sigma: float = 0.5,
                              clip_pixel_norm: float = 0.0, clip_contribution: float = 0.0,
                              input_shape: tuple[int, ...] | None = None, seed: int = 0,
                              parameterization: str = "pixel", progress: bool = True) -> Visualization:
    """The class model image: argmax_x s_c(x) - l2 ||x||^2 by gradient ascent (Simonyan et al. 2014).

    `s_c` is the model's pre-softmax output for `target`; regularizers (Yosinski et al. 2015): `jitter`
    (max roll in pixels), `blur_every` / `blur_sigma` (0 turns blurring off), `clip_pixel_norm` and
    `clip_contribution` (percentiles of pixels zeroed each step; 0 turns them off). `input_shape`
    (C, H, W) defaults to the first conv's channels at 64 x 64. Deterministic in `seed`.
    """
    lr = _default_lr(parameterization, lr)
    _check_params(steps, lr, l2, jitter, blur_every, blur_sigma, clip_pixel_norm, clip_contribution)
    if isinstance(target, bool) or not isinstance(target, int):
        raise BadInputError(f"target must be a class index (int); got {target!r}")
    shape = _input_shape(model, input_shape)
    params = dict(steps=steps, lr=lr, l2=l2, jitter=jitter, blur_every=blur_every, blur_sigma=blur_sigma,
                     clip_pixel_norm=clip_pixel_norm, clip_contribution=clip_contribution, seed=seed,
                  parameterization=parameterization)

    def logits(x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise BadInputError(f"the model must return logits (n, classes); got "
                                f"{getattr(out, 'shape', type(out).__name__)}")
        if not 0 <= target < out.shape[1]:
            raise BadInputError(f"target {target} is out of range: the model has {out.shape[1]} classes")
        return out

    with untouched(model):
        image, trace = _ascend(model, lambda x: logits(x)[0, target], shape, steps, lr, l2, jitter,
                               blur_every, blur_sigma, clip_pixel_norm, clip_contribution, seed,
                               parameterization, progress, f"class {target}")
        with torch.no_grad():
            out = logits(image)
    return Visualization(image=image, trace=tuple(trace), probability=float(out.softmax(1)[0, target]),
                         activation=float(out[0, target]), kind="class", target=target, params=params)


def neuron_visualization(model: nn.Module, layer: str | nn.Module, channel: int,
                         position: tuple[int, int] | None = None, steps: int = 200, lr: float | None = None,
                         l2: float = 0.001, jitter: int = 2, blur_every: int = 4, blur_sigma: float = 0.5,
                         clip_pixel_norm: float = 0.0, clip_contribution: float = 0.0,
                         input_shape: tuple[int, ...] | None = None, seed: int = 0,
                         parameterization: str = "pixel", progress: bool = True) -> Visualization:
    """The input maximizing one neuron a_j^[l](x) - l2 ||x||^2: channel `channel` of `layer`'s output,
    averaged over space, or the single unit at `position=(y, x)`; for a (n, features) output, the
    feature itself. The forward pass stops at `layer` (later layers never run). Same regularizers as
    `class_model_visualization`; `probability` is None.
    """
    lr = _default_lr(parameterization, lr)
    _check_params(steps, lr, l2, jitter, blur_every, blur_sigma, clip_pixel_norm, clip_contribution)
    require_eager(model, "neuron_visualization")
    name, module = resolve_layer(model, layer)
    if isinstance(channel, bool) or not isinstance(channel, int):
        raise BadInputError(f"channel must be an int; got {channel!r}")
    shape = _input_shape(model, input_shape)
    params = dict(layer=name, channel=channel, position=None if position is None else list(position),
                     steps=steps, lr=lr, l2=l2, jitter=jitter, blur_every=blur_every, blur_sigma=blur_sigma,
                     clip_pixel_norm=clip_pixel_norm, clip_contribution=clip_contribution, seed=seed,
                  parameterization=parameterization)

    def activation(x: torch.Tensor) -> torch.Tensor:
        a = layer_output(model, module, name, x)
        check_channel(a, channel, name)
        a = a[0, channel]  # (H, W), or a scalar for a (n, features) output
        if position is None:
            return a.mean()
        if a.ndim != 2 or len(position) != 2 or not all(0 <= p < s for p, s in zip(position, a.shape,
                                                                                     strict=True)):
            raise BadInputError(f"position {position!r} is outside layer {name!r}'s map of shape "
                                f"{tuple(a.shape)}; give (y, x) inside it")
        return a[position[0], position[1]]

    with untouched(model):
        image, trace = _ascend(model, activation, shape, steps, lr, l2, jitter, blur_every, blur_sigma,
                               clip_pixel_norm, clip_contribution, seed, parameterization, progress,
                               f"{name}[{channel}]")
        with torch.no_grad():
            final = activation(image)
    target = {"layer": name, "channel": channel, "position": None if position is None else list(position)}
    return Visualization(image=image, trace=tuple(trace), probability=None, activation=float(final),
                         kind="neuron", target=target, params=params)
