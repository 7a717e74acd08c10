"""Image parameterizations for activation maximization, and a measure of an image's high frequencies.

Olah, Mordvintsev & Schubert 2017 ("Feature Visualization", Distill, section "Preconditioning and
Parameterization"): gradient ascent on raw pixels is dominated by high frequencies, because the
gradient of a CNN is largest there. Describing the image instead by its Fourier coefficients, each
scaled by 1/f (natural images have roughly that amplitude spectrum), makes a plain gradient step a
*decorrelated* one: every frequency moves at the pace it has in natural images. Colours are
decorrelated the same way: the three channels are a fixed linear mix (the square root of the colour
covariance of ImageNet, from their Lucid library) of three decorrelated components.

Each parameterization maps a parameter tensor `p` to an image `x` in the model's input space
(`to_image`) and back (`from_image`, exact up to float rounding), so the image-space regularizers of
Yosinski et al. 2015 (blur, clipping) still apply: the image is computed, regularized and mapped back.
"""

from __future__ import annotations

import torch

from fourlens.errors import BadInputError

PARAMETERIZATIONS = ("pixel", "fourier")

# sqrt of ImageNet's RGB covariance (columns = decorrelated components), as published with Lucid;
# normalized below so that its largest column has norm 1.
_COLOUR_SQRT = ((0.26, 0.09, 0.02),
                (0.27, 0.00, -0.05),
                (0.27, -0.09, 0.03))


class PixelImage:
    """The identity parameterization: p is the image."""

    name = "pixel"

    def __init__(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> None:
        self.shape = shape

    def init(self, generator: torch.Generator, std: float) -> torch.Tensor:
        return std * torch.randn(self.shape, generator=generator, dtype=torch.float64)

    def to_image(self, p: torch.Tensor) -> torch.Tensor:
        return p

    def from_image(self, x: torch.Tensor) -> torch.Tensor:
        return x


class FourierImage:
    """x = M irfft2(s * p): p holds the real and imaginary parts of the spectrum (1, C, H, W//2+1, 2),
    s(f) = 1 / max(f, 1/max(H, W))^decay_power (f in cycles per pixel) scaled to root-mean-square 1,
    and M mixes decorrelated colour components into RGB (identity unless C == 3). With the orthonormal
    FFT, unit-variance p gives a roughly unit-variance image."""

    name = "fourier"

    def __init__(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype,
                 decay_power: float = 1.0, decorrelate: bool = True) -> None:
        _, c, h, w = shape
        self.shape, self.size = shape, (h, w)
        fy = torch.fft.fftfreq(h, dtype=torch.float64).view(h, 1)
        fx = torch.fft.rfftfreq(w, dtype=torch.float64).view(1, -1)
        f = (fy ** 2 + fx ** 2).sqrt()  # (H, W//2+1) radial frequency
        scale = 1.0 / f.clamp_min(1.0 / max(h, w)) ** decay_power
        scale = scale / scale.pow(2).mean().sqrt()
        self.scale = scale.to(device=device, dtype=dtype)
        colour = torch.eye(c, dtype=torch.float64)
        if decorrelate and c == 3:
            colour = torch.tensor(_COLOUR_SQRT, dtype=torch.float64)
            colour = colour / colour.norm(dim=0).max()
        self.colour = colour.to(device=device, dtype=dtype)          # (C, C): RGB = M @ components
        self.colour_inv = torch.linalg.inv(colour).to(device=device, dtype=dtype)

    def init(self, generator: torch.Generator, std: float) -> torch.Tensor:
        _, c, h, w = self.shape
        return std * torch.randn((1, c, h, w // 2 + 1, 2), generator=generator, dtype=torch.float64)

    def to_image(self, p: torch.Tensor) -> torch.Tensor:
        spectrum = torch.view_as_complex(p.contiguous()) * self.scale      # (1, C, H, W//2+1)
        components = torch.fft.irfft2(spectrum, s=self.size, norm="ortho")  # (1, C, H, W)
        return torch.einsum("ij,njhw->nihw", self.colour, components)

    def from_image(self, x: torch.Tensor) -> torch.Tensor:
        components = torch.einsum("ij,njhw->nihw", self.colour_inv, x)
        spectrum = torch.fft.rfft2(components, norm="ortho") / self.scale
        return torch.view_as_real(spectrum).contiguous()  # (1, C, H, W//2+1, 2)


def make_parameterization(name: str, shape: tuple[int, ...], device: torch.device,
                          dtype: torch.dtype) -> PixelImage | FourierImage:
    if name == "pixel":
        return PixelImage(shape, device, dtype)
    if name == "fourier":
        if dtype not in (torch.float32, torch.float64):
            raise BadInputError(f"the Fourier parameterization needs a float32/float64 model; got {dtype}")
        return FourierImage(shape, device, dtype)
    raise BadInputError(f"parameterization must be one of {', '.join(PARAMETERIZATIONS)}; got {name!r}")


def high_frequency_share(image: torch.Tensor, cutoff: float = 0.25) -> float:
    """The share of an image's spectral energy above `cutoff` cycles per pixel (0.5 is Nyquist).

    `image` (C, H, W) or (1, C, H, W); each channel's mean is removed first, so a constant offset does
    not count. Noise-like images give about 0.8 at the default cutoff; smooth ones give close to 0."""
    x = image.detach().double()
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise BadInputError(f"high_frequency_share takes one image; got a batch of {x.shape[0]}")
        x = x[0]
    if x.ndim != 3:
        raise BadInputError(f"image must be (C, H, W) or (1, C, H, W); got {tuple(image.shape)}")
    h, w = x.shape[-2:]
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2).sum(0)  # (H, W), summed over channels
    f = (torch.fft.fftfreq(h, dtype=torch.float64).view(h, 1) ** 2
         + torch.fft.fftfreq(w, dtype=torch.float64).view(1, w) ** 2).sqrt()
    total = power.sum()
    return 0.0 if total == 0 else float(power[f > cutoff].sum() / total)
