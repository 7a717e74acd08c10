"""Integrated gradients by the secant rule (`method="secant"`) and the pairing it shares with DeepLIFT."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision import deeplift, integrated_gradients
from fourlens.vision.conformance import check_attribution_method
from tests.vision.conftest import TinyNet


class OneLayerNet(nn.Module):
    """Conv-ReLU-GAP-Linear in float64: every unit that switches along the path lies in one layer."""

    def __init__(self, seed: int = 5) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.fc = nn.Linear(8, 4)
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class PooledNet(nn.Module):
    """ResNet's stem: a 3x3 stride-2 max pool, whose windows overlap, between two conv-ReLU layers."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(6)
            self.conv1, self.conv2 = nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(6, 8, 3, padding=1)
            self.fc = nn.Linear(8, 5)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv2(self.pool(torch.relu(self.conv1(x)))))
        return self.fc(h.mean((2, 3)))


class GatedNet(OneLayerNet):
    """A product of activations (x * sigmoid(x), written out): a nonlinearity no rule routes."""

    def __init__(self) -> None:
        super().__init__(seed=7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return self.fc((h * torch.sigmoid(h)).mean((2, 3)))


def map_error(result, reference) -> float:
    return ((result.values - reference.values).abs().sum() / reference.values.abs().sum()).item()


def test_one_interval_is_exact_when_one_layer_switches(tiny_x):
    model = OneLayerNet().eval()
    # The path integrand is piecewise constant; 20,000 midpoint nodes are exact to ~1e-5 of the map here.
    exact = integrated_gradients(model, tiny_x, [0, 1, 2], steps=20000, method="riemann_middle", batch_size=2000,
                                 progress=False)
    secant = integrated_gradients(model, tiny_x, [0, 1, 2], steps=2, method="secant", progress=False)
    trapezoid = integrated_gradients(model, tiny_x, [0, 1, 2], steps=2, method="riemann_trapezoid", progress=False)
    assert map_error(secant, exact) < 1e-4
    assert map_error(trapezoid, exact) > 0.05  # the two end gradients alone are far off
    assert secant.delta.abs().max() < 1e-12


def test_secant_is_complete_through_overlapping_max_pools(tiny_x):
    model = PooledNet().eval()
    result = integrated_gradients(model, tiny_x, [0, 1, 2], steps=5, method="secant", baseline=0.3,
                                  progress=False)
    assert result.delta.abs().max() < 1e-12
    # DeepLIFT shares the pool rule: an input winning two overlapping windows takes both shares.
    lifted = deeplift(model, tiny_x, [0, 1, 2], baseline=0.3, progress=False)
    assert lifted.delta.abs().max() < 1e-12


def test_secant_beats_captums_rule_with_a_third_of_the_passes(zoo_model, zoo_batch):
    x, y = zoo_batch.images[:6], zoo_batch.labels[:6]
    exact = integrated_gradients(zoo_model, x, y, steps=600, method="riemann_middle", batch_size=256,
                                 progress=False)
    secant = integrated_gradients(zoo_model, x, y, steps=17, method="secant", progress=False)
    gauss = integrated_gradients(zoo_model, x, y, steps=50, progress=False)
    # Measured on 16 zoo images (docs/vision.md): secant 17 passes 0.017, Gauss-Legendre 50 passes 0.026.
    assert map_error(secant, exact) < map_error(gauss, exact)
    rise = gauss.values.flatten(1).sum(1) - gauss.delta
    assert (secant.delta.abs() < 1e-5 * rise.abs().max()).all()  # float32 rounding, every image


def test_batches_cut_paths_without_changing_the_result(tiny, tiny_x):
    whole = integrated_gradients(tiny, tiny_x, [0, 1, 2], steps=9, method="secant", progress=False)
    assert whole.params["passes_per_image"] == 9
    for batch_size in (1, 2, 5):  # 1 runs pairs: an interval needs both its ends
        cut = integrated_gradients(tiny, tiny_x, [0, 1, 2], steps=9, method="secant", batch_size=batch_size,
                                   progress=False)
        torch.testing.assert_close(cut.values, whole.values, rtol=1e-10, atol=1e-12)
        # each cut inside a path evaluates its left node again
        assert cut.params["passes_per_image"] > 9


def test_secant_several_targets_and_conformance(tiny_x):
    model = TinyNet(functional=True).eval()
    result = check_attribution_method(partial(integrated_gradients, method="secant"), model, tiny_x,
                                      target=[0, 1, 2], steps=8)
    assert result.values.shape == tiny_x.shape
    many = integrated_gradients(model, tiny_x, targets=[4, 0], steps=8, method="secant", progress=False)
    assert many.values.shape == (3, 2, *tiny_x.shape[1:])
    assert many.delta.abs().max() < 1e-12  # each target complete on its own


def test_an_unrouted_nonlinearity_is_reported(tiny_x):
    model = GatedNet().eval()
    with pytest.warns(UserWarning, match="does not route"):
        result = integrated_gradients(model, tiny_x, 0, steps=6, method="secant", progress=False)
    assert result.delta.abs().max() > 1e-6


def test_secant_checks_its_arguments(tiny, tiny_x):
    with pytest.raises(ValueError, match="steps >= 2"):
        integrated_gradients(tiny, tiny_x, 0, steps=1, method="secant")
    scripted = torch.jit.trace(tiny, tiny_x)
    with pytest.raises(BadInputError, match="eager"):
        integrated_gradients(scripted, tiny_x, 0, steps=4, method="secant")
