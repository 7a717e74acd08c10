"""Exact properties of the methods on tiny models, and their behaviour on the trained zoo model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision import (
    METHODS,
    cam,
    grad_cam,
    grad_cam_plus_plus,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)
from fourlens.vision.attribution import quadrature
from fourlens.vision.metrics import pointing_game


class SmoothNet(nn.Module):
    """A GELU twin of TinyNet: a smooth path integrand, so Gauss-Legendre converges fast."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w1 = nn.Parameter(torch.randn(6, 3, 3, 3, generator=g, dtype=torch.float64) * 0.5)
        self.w2 = nn.Parameter(torch.randn(5, 6, generator=g, dtype=torch.float64) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.gelu(nn.functional.conv2d(x, self.w1, padding=1))
        return h.mean((2, 3)) @ self.w2.T


def test_quadrature_rules_integrate_polynomials():
    for rule in ("gausslegendre", "riemann_trapezoid", "riemann_middle"):
        alphas, weights = quadrature(rule, 40)
        assert weights.sum() == pytest.approx(1.0)
        assert (weights * alphas).sum() == pytest.approx(0.5, abs=1e-3)
    alphas, weights = quadrature("gausslegendre", 5)
    assert (weights * alphas ** 8).sum() == pytest.approx(1 / 9, rel=1e-10)  # exact up to degree 9
    with pytest.raises(ValueError, match="unknown quadrature"):
        quadrature("simpson", 10)


def test_ig_completeness_is_exact_on_a_smooth_model(tiny_x):
    result = integrated_gradients(SmoothNet(), tiny_x, [0, 1, 2], steps=50)
    assert result.delta.abs().max() < 1e-10


def test_ig_completeness_on_the_zoo_model(zoo_model, zoo_batch):
    x, y = zoo_batch.images[:4], zoo_batch.labels[:4]
    coarse = integrated_gradients(zoo_model, x, y, steps=50)
    with torch.no_grad():
        rise = zoo_model(x).gather(1, y[:, None])[:, 0] - zoo_model(torch.zeros_like(x)).gather(1, y[:, None])[:, 0]
    # ReLU kinks along the path keep the 50-step error near 0.4% of f(x) - f(x'); it shrinks with steps.
    assert (coarse.delta.abs() / rise.abs()).mean() < 1e-2
    fine = integrated_gradients(zoo_model, x, y, steps=120, method="riemann_middle")
    assert fine.delta.abs().mean() < coarse.delta.abs().mean()
    torch.testing.assert_close(coarse.values.flatten(1).sum(1) - coarse.delta, rise, rtol=1e-4, atol=1e-4)


def test_several_targets_equal_one_target_at_a_time(tiny, tiny_x):
    for name in ("saliency", "integrated_gradients", "occlusion", "grad_cam", "cam"):
        kwargs = {"window": 4, "stride": 4} if name == "occlusion" else {}
        many = METHODS[name](tiny, tiny_x, targets=[4, 0, 2], **kwargs)
        assert many.target.shape == (3, 3) and many.values.shape[1] == 3
        for t, cls in enumerate([4, 0, 2]):
            single = METHODS[name](tiny, tiny_x, cls, **kwargs)
            torch.testing.assert_close(many.values[:, t], single.values)
            if single.delta is not None:
                torch.testing.assert_close(many.delta[:, t], single.delta)


def test_target_forms(tiny, tiny_x):
    top = saliency(tiny, tiny_x)
    assert torch.equal(top.target, tiny(tiny_x).argmax(1))
    torch.testing.assert_close(saliency(tiny, tiny_x, top.target.tolist()).values, top.values)
    torch.testing.assert_close(saliency(tiny, tiny_x, torch.tensor(top.target)).values, top.values)
    per_image = torch.tensor([[1, 2], [3, 4], [0, 0]])
    assert torch.equal(saliency(tiny, tiny_x, targets=per_image).target, per_image)
    for bad, error in [(7, ValueError), ([0, 1], ValueError), ("top5", ValueError), (1.5, TypeError),
                       ([0.0, 1.0, 2.0], TypeError)]:
        with pytest.raises(error):
            saliency(tiny, tiny_x, bad)
    with pytest.raises(ValueError, match="not both"):
        saliency(tiny, tiny_x, 1, targets=[1, 2])


def test_bad_inputs_are_refused_clearly(tiny, tiny_x):
    with pytest.raises(BadInputError, match="unsqueeze"):
        saliency(tiny, tiny_x[0])
    with pytest.raises(BadInputError, match="floating point"):
        saliency(tiny, (tiny_x * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        saliency(tiny, tiny_x, batch_size=0)
    with pytest.raises(BadInputError, match="no layer named"):
        grad_cam(tiny, tiny_x, 0, layer="layer4")
    with pytest.raises(BadInputError, match="does not broadcast"):
        integrated_gradients(tiny, tiny_x, 0, baseline=torch.zeros(2, 3, 16, 16, dtype=torch.float64))
    with pytest.raises(BadInputError, match="window"):
        occlusion(tiny, tiny_x, 0, window=40)
    if torch.cuda.is_available():
        with pytest.raises(BadInputError, match="model is on"):
            saliency(tiny, tiny_x.cuda())


def test_cam_is_exact_for_a_gap_head(tiny, tiny_x):
    result = cam(tiny, tiny_x, [0, 3, 4])
    assert result.layer == "relu2"
    logits = tiny(tiny_x).detach()
    # Zhou et al.: the class score is the spatial mean of the CAM plus the classifier bias.
    torch.testing.assert_close(result.values.mean((1, 2)) + tiny.fc.bias[[0, 3, 4]].detach(),
                               logits[torch.arange(3), [0, 3, 4]])
    # For a GAP head, Grad-CAM's weights are the classifier weights / (h*w): the same map, scaled.
    torch.testing.assert_close(grad_cam(tiny, tiny_x, [0, 3, 4], layer="relu2").values * 64, result.values)


def test_cam_refuses_models_without_a_gap_head(tiny_x):
    flat = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 5)).double()
    with pytest.raises(BadInputError, match="global-average-pooling head.*grad_cam"):
        cam(flat, tiny_x)
    assert grad_cam(flat, tiny_x, 0).values.shape == (3, 14, 14)  # Grad-CAM works on any conv layer


def test_grad_cam_plus_plus_formula(tiny, tiny_x):
    # With a linear head after ReLU features the gradients are constant over space: alpha = 1 / (2 + S g)
    # ... the map must still be a non-negative combination of the channels, with positive weights only.
    result = grad_cam_plus_plus(tiny, tiny_x, 1, layer="relu2")
    weights = tiny.fc.weight[1].detach() / 64
    acts = {}
    handle = tiny.relu2.register_forward_hook(lambda m, i, o: acts.setdefault("a", o.detach()))
    tiny(tiny_x)
    handle.remove()
    a = acts["a"]
    g2, g3 = weights ** 2, weights ** 3
    alpha = g2 / (2 * g2 + a.sum((2, 3)) * g3 + 1e-6)  # (n, K)
    expected = torch.einsum("nk,nkhw->nhw", alpha * weights.clamp(min=0) * 64, a)
    torch.testing.assert_close(result.values, expected)


def test_smoothgrad_is_seeded_and_reduces_to_saliency_without_noise(tiny, tiny_x):
    a = smoothgrad(tiny, tiny_x, 1, n=5, seed=3)
    torch.testing.assert_close(a.values, smoothgrad(tiny, tiny_x, 1, n=5, seed=3).values)
    assert not torch.allclose(a.values, smoothgrad(tiny, tiny_x, 1, n=5, seed=4).values)
    torch.testing.assert_close(smoothgrad(tiny, tiny_x, 1, n=3, sigma=0.0).values, saliency(tiny, tiny_x, 1).values)


@pytest.mark.parametrize("name", ["cam", "grad_cam", "grad_cam_plus_plus", "occlusion", "integrated_gradients"])
def test_maps_point_at_the_animal(zoo_model, zoo_batch, name):
    kwargs = {"steps": 16} if name == "integrated_gradients" else {}
    result = METHODS[name](zoo_model, zoo_batch.images, zoo_batch.labels, **kwargs)
    game = pointing_game(result, zoo_batch.masks, tolerance=2)
    assert game.accuracy >= 0.9, game.to_dict()


def test_heatmap_and_overlay_presentation(tiny, tiny_x):
    result = grad_cam(tiny, tiny_x, 0, layer="relu2")
    heat = result.heatmap(size=(16, 16))
    assert heat.shape == (3, 16, 16) and heat.min() >= 0 and heat.max() <= 1
    pictures = result.overlay(tiny_x)
    assert len(pictures) == 3 and pictures[0].size == (16, 16)
    assert "<img" in result._repr_html_()
    assert result.to_dict()["shape"] == [3, 8, 8]


def test_an_unknown_layer_name_suggests_the_closest_names_first(zoo_model) -> None:
    with pytest.raises(BadInputError, match=r"no layer named 'feature\.10'.*\(15 of them\), e\.g\. features\.10, "):
        grad_cam(zoo_model, torch.rand(1, 3, 64, 64), 0, layer="feature.10")  # a typo of features.10
