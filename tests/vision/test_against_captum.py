"""Differential tests: fourlens's attributions agree with Captum's on the same models to 1e-5 relative."""

from __future__ import annotations

import pytest
import torch

from fourlens.vision import deconvnet, grad_cam, guided_backprop, integrated_gradients, occlusion, saliency
from tests.vision.conftest import TinyNet

captum_attr = pytest.importorskip("captum.attr", reason="Captum comes with the dev/bench extra")

TARGETS = [0, 3, 1]


def close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    torch.testing.assert_close(ours, theirs.to(ours.dtype), rtol=1e-5, atol=1e-5 * theirs.abs().max().item())


def test_saliency_matches_captum(tiny, tiny_x):
    ours = saliency(tiny, tiny_x, TARGETS)
    # Captum's Saliency returns |grad| by default; abs=False gives the signed gradient we return.
    theirs = captum_attr.Saliency(tiny).attribute(tiny_x, target=TARGETS, abs=False)
    close(ours.values, theirs)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_middle"])
def test_integrated_gradients_matches_captum(tiny, tiny_x, method):
    baseline = torch.full_like(tiny_x, 0.25)
    ours = integrated_gradients(tiny, tiny_x, TARGETS, baseline=baseline, steps=20, method=method, batch_size=7)
    theirs, delta = captum_attr.IntegratedGradients(tiny).attribute(
        tiny_x, baselines=baseline, target=TARGETS, n_steps=20, method=method, return_convergence_delta=True)
    if method == "riemann_trapezoid":
        # Captum's trapezoid puts nodes at linspace(0, 1, n) but uses step 1/n (halved at the ends), so
        # its weights sum to (n-1)/n, not 1; ours is the textbook rule with step 1/(n-1). Rescaled, the
        # sums agree exactly; Captum's delta then also differs, so only the values are compared.
        close(ours.values * 19 / 20, theirs)
        return
    close(ours.values, theirs)
    # Captum's delta is sum(IG) - (f(x) - f(x')): the same sign convention as ours.
    torch.testing.assert_close(ours.delta, delta.to(ours.delta.dtype), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("functional", [False, True])
def test_guided_backprop_and_deconvnet_match_captum(tiny_x, functional):
    # Captum hooks nn.ReLU modules only, so it is run on the module model; ours must give the same
    # maps on the functional twin (same weights, F.relu / torch.relu instead of modules).
    reference = TinyNet().eval()
    model = TinyNet(functional=functional).eval()
    close(guided_backprop(model, tiny_x, TARGETS).values,
          captum_attr.GuidedBackprop(reference).attribute(tiny_x, target=TARGETS))
    close(deconvnet(model, tiny_x, TARGETS).values,
          captum_attr.Deconvolution(reference).attribute(tiny_x, target=TARGETS))


def test_guided_backprop_with_inplace_relu(tiny_x):
    reference = TinyNet().eval()
    inplace = TinyNet(inplace=True).eval()
    close(guided_backprop(inplace, tiny_x, TARGETS).values,
          captum_attr.GuidedBackprop(reference).attribute(tiny_x, target=TARGETS))
    # and the plain gradient is not what guided backprop gives (the rule really changed the backward)
    assert not torch.allclose(guided_backprop(inplace, tiny_x, TARGETS).values, saliency(inplace, tiny_x,
                                                                                          TARGETS).values)


@pytest.mark.parametrize(("window", "stride"), [(4, 2), (5, 3)])
def test_occlusion_score_drop_matches_captum(tiny, tiny_x, window, stride):
    ours = occlusion(tiny, tiny_x, TARGETS, window=window, stride=stride, fill=0.5, batch_size=11)
    theirs = captum_attr.Occlusion(tiny).attribute(
        tiny_x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride), baselines=0.5,
        target=TARGETS, perturbations_per_eval=16)
    close(ours.values, theirs)


def test_occlusion_probability_map_is_the_softmax_with_the_square(tiny, tiny_x):
    ours = occlusion(tiny, tiny_x, TARGETS, window=4, stride=4)
    occluded = tiny_x.clone()
    occluded[:, :, 4:8, 8:12] = 0.5  # the square at row 1, column 2
    expected = tiny(occluded).softmax(1)[torch.arange(3), TARGETS]
    torch.testing.assert_close(ours.probability_map[:, 1, 2], expected.detach())


@pytest.mark.parametrize("layer", ["conv2", "relu2", "conv1"])
def test_grad_cam_matches_captum(tiny, tiny_x, layer):
    ours = grad_cam(tiny, tiny_x, TARGETS, layer=layer)
    module = dict(tiny.named_modules())[layer]
    theirs = captum_attr.LayerGradCam(tiny, module).attribute(tiny_x, target=TARGETS)  # (n, 1, h, w)
    close(ours.values, theirs[:, 0])
