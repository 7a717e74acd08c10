"""Fourier / decorrelated image parameterization (Olah et al. 2017) and the high-frequency measure."""

from __future__ import annotations

import math

import pytest
import torch

from fourlens.demo import zoo
from fourlens.errors import BadInputError
from fourlens.vision import class_model_visualization, neuron_visualization
from fourlens.vision.conformance import compare_snapshots, model_snapshot
from fourlens.vision.fourier import FourierImage, high_frequency_share


def test_fourier_parameterization_round_trips_and_is_one_over_f():
    param = FourierImage((1, 3, 20, 17), torch.device("cpu"), torch.float64)
    x = torch.randn(1, 3, 20, 17, dtype=torch.float64)
    assert torch.allclose(param.to_image(param.from_image(x)), x, atol=1e-10)
    # unit-variance parameters -> an image whose amplitude falls off like 1/f: power 1/f^2 per frequency,
    # so each octave of frequencies holds about the same energy (white noise: 4x more per octave up)
    p = param.init(torch.Generator().manual_seed(0), 1.0)
    img = param.to_image(p)
    assert high_frequency_share(img) < 0.5 < 0.7 < high_frequency_share(torch.randn(1, 3, 20, 17))
    power = torch.fft.rfft2(torch.einsum("ij,njhw->nihw", param.colour_inv, img)).abs().pow(2).mean(dim=(0, 1))
    # power at the frequency (0, k) for k = 1, 2, 4, 8 (cycles per image) ~ 1/k^2, averaged over channels
    ratios = [(power[0, k] / power[0, 2 * k]).item() for k in (1, 2, 4)]
    assert all(r == pytest.approx(4.0, rel=0.9) for r in ratios), ratios
    assert 0.3 < img.std().item() < 3.0  # the scale is normalized to RMS 1
    # colour decorrelation is a fixed invertible mix: its columns are not orthogonal axes of RGB
    assert not torch.allclose(param.colour, torch.eye(3, dtype=torch.float64))


def test_high_frequency_share_of_known_images():
    size = 32
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    slow = torch.sin(2 * math.pi * xs / 16).expand(3, -1, -1).double()      # 1/16 cycle per pixel
    fast = torch.cos(math.pi * (xs + ys)).expand(3, -1, -1).double()          # checkerboard, Nyquist
    assert high_frequency_share(slow) == pytest.approx(0.0, abs=1e-12)
    assert high_frequency_share(fast) == pytest.approx(1.0, abs=1e-12)
    # mean squares 1 (cosine at Nyquist) and 1/2 (sine): 2/3 of the energy is high; offsets do not count
    assert high_frequency_share(fast + slow + 5.0) == pytest.approx(2 / 3, abs=1e-9)
    noise = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert high_frequency_share(noise) == pytest.approx(1 - math.pi / 16, abs=0.03)  # outside the r = 1/4 disk
    with pytest.raises(BadInputError, match="one image"):
        high_frequency_share(torch.zeros(2, 3, 8, 8))


@pytest.mark.parametrize("target", range(len(zoo.CLASSES)))
def test_fourier_class_models_reach_the_class_with_fewer_high_frequencies(zoo_model, target):
    before = model_snapshot(zoo_model)
    fourier = class_model_visualization(zoo_model, target, parameterization="fourier")  # the defaults
    compare_snapshots(before, model_snapshot(zoo_model), "fourier class_model_visualization")
    assert fourier.probability > 0.99, fourier.probability
    assert fourier.params["parameterization"] == "fourier" and fourier.params["lr"] == 0.01
    # the comparison the parameterization is for: no blur on either side, the same steps. Measured at
    # seed 0, Fourier vs pixel: 0.04 vs 0.20, 0.65 vs 0.86, 0.05 vs 0.23, 0.30 vs 0.74.
    fourier_free = class_model_visualization(zoo_model, target, parameterization="fourier", blur_every=0, steps=100)
    pixel_free = class_model_visualization(zoo_model, target, blur_every=0, steps=100)
    assert fourier_free.probability > 0.99 and pixel_free.probability > 0.99
    assert high_frequency_share(fourier_free.image) < 0.85 * high_frequency_share(pixel_free.image)


def test_fourier_neuron_visualization_and_bad_parameterization(zoo_model):
    result = neuron_visualization(zoo_model, "features.5", 7, steps=60, parameterization="fourier")
    assert result.image.shape == (1, 3, 64, 64)
    assert result.trace[-1] > result.trace[0] + 0.5
    with pytest.raises(BadInputError, match="parameterization"):
        class_model_visualization(zoo_model, 0, steps=2, parameterization="wavelet")
