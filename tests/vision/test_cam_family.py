"""The CAM family against references written from the papers' formulas (numpy, on activations and
gradients read with plain hooks), Guided Grad-CAM against Captum, and the shortcuts Score-CAM and
Ablation-CAM take checked against the plain computation. The same maps agree with the real
pytorch-grad-cam to 1e-6 (benchmarks/vision/bench_gradcam_peer.py, in the package's own environment)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fourlens.errors import BadInputError
from fourlens.vision import (
    ablation_cam,
    eigen_cam,
    eigen_grad_cam,
    fullgrad,
    grad_cam,
    guided_grad_cam,
    hirescam,
    layer_cam,
    score_cam,
    xgrad_cam,
)
from fourlens.vision.attribution.eigen_cam import principal_projection
from tests.vision.conftest import TinyNet

TARGETS = [0, 3, 1]
# the package exports the function under the module's name, so the module is fetched by its path
ablation_module = importlib.import_module("fourlens.vision.attribution.ablation_cam")


def layer_and_grads(model: nn.Module, x: torch.Tensor, layer: str, targets) -> tuple[np.ndarray, np.ndarray]:
    """The layer's activations (n, K, h, w) and d logit[target] / d activations, by a plain hook."""
    store = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda _m, _i, out: store.update(a=out))
    x = x.clone().requires_grad_(True)
    logits = model(x)
    handle.remove()
    score = logits.gather(1, torch.as_tensor(targets)[:, None]).sum()
    (grad,) = torch.autograd.grad(score, store["a"])
    return store["a"].detach().numpy(), grad.numpy()


@pytest.fixture
def reference(tiny, tiny_x):
    return layer_and_grads(tiny, tiny_x, "conv2", TARGETS)


def close(ours: torch.Tensor, theirs: np.ndarray) -> None:
    np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=1e-9, atol=1e-10 * np.abs(theirs).max())


def test_hirescam_layer_cam_and_xgrad_cam_follow_their_formulas(tiny, tiny_x, reference):
    a, g = reference
    close(hirescam(tiny, tiny_x, TARGETS, layer="conv2").values, (g * a).sum(1))
    close(layer_cam(tiny, tiny_x, TARGETS, layer="conv2").values, (np.maximum(g, 0) * a).sum(1))
    weights = (g * a / (a.sum((2, 3), keepdims=True) + 1e-7)).sum((2, 3))
    close(xgrad_cam(tiny, tiny_x, TARGETS, layer="conv2").values, (weights[:, :, None, None] * a).sum(1))


def numpy_projection(maps: np.ndarray) -> np.ndarray:
    """Eigen-CAM's projection, sign fixed so the loadings sum to >= 0."""
    out = []
    for m in maps:
        matrix = m.reshape(m.shape[0], -1).T
        centred = matrix - matrix.mean(0)
        v = np.linalg.svd(centred)[2][0]
        v = -v if v.sum() < 0 else v
        out.append((centred @ v).reshape(m.shape[1:]))
    return np.stack(out)


def test_eigen_cams_project_on_the_first_principal_component(tiny, tiny_x, reference):
    a, g = reference
    close(eigen_cam(tiny, tiny_x, TARGETS, layer="conv2").values, numpy_projection(a))
    close(eigen_grad_cam(tiny, tiny_x, TARGETS, layer="conv2").values, numpy_projection(g * a))
    # numpy's sign (pytorch-grad-cam's): the same map up to sign, image by image
    numpy_sign = eigen_cam(tiny, tiny_x, TARGETS, layer="conv2", sign="numpy").values
    fixed = eigen_cam(tiny, tiny_x, TARGETS, layer="conv2").values
    for ours, theirs in zip(numpy_sign, fixed, strict=True):
        assert torch.allclose(ours, theirs, atol=1e-8) or torch.allclose(ours, -theirs, atol=1e-8)
    # several targets: Eigen-CAM is the same map for each, Eigen-Grad-CAM is not
    multi = eigen_cam(tiny, tiny_x, targets=[0, 2], layer="conv2").values
    assert torch.equal(multi[:, 0], multi[:, 1]) and torch.allclose(multi[:, 0], fixed)
    with pytest.raises(ValueError, match="sign"):
        principal_projection(torch.zeros(1, 2, 3, 3), sign="lapack")


def test_score_cam_is_the_softmax_of_masked_scores(tiny, tiny_x, reference):
    a, _g = reference
    x = tiny_x.numpy()
    up = F.interpolate(torch.from_numpy(a), size=x.shape[-2:], mode="bilinear", align_corners=True).numpy()
    low, high = up.min((2, 3), keepdims=True), up.max((2, 3), keepdims=True)
    masks = (up - low) / (high - low + 1e-8)  # (n, K, H, W)
    with torch.no_grad():
        scores = np.stack([tiny(torch.from_numpy(x[i] * masks[i][:, None]))[:, TARGETS[i]].numpy()
                           for i in range(len(x))])  # (n, K)
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    close(score_cam(tiny, tiny_x, TARGETS, layer="conv2", batch_size=5).values, (weights[:, :, None, None] * a).sum(1))


def test_score_cam_evaluates_an_empty_mask_once():
    """Channels that are constant over the map all mask to the zero image: one forward serves them all."""
    model = TinyNet().eval()
    with torch.no_grad():
        model.conv2.weight[:3] = 0  # three channels of relu2 are constant (the ReLU of their bias)
    x = torch.rand(4, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    a, _ = layer_and_grads(model, x, "relu2", [1] * 4)
    seen = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    result = score_cam(model, x, 1, layer="relu2", batch_size=64)
    varying = int((a.max((2, 3)) > a.min((2, 3))).sum())
    assert 4 * 3 <= 32 - varying < 32  # at least the three dead channels of every image are constant
    # after the probing and clean forwards: the varying (image, channel) pairs in one batch, one zero image
    assert seen[-2:] == [varying, 1]
    # the shortcut changes nothing: the same weights as evaluating every channel
    plain = score_cam_without_shortcut(model, x, 1)
    torch.testing.assert_close(result.values, plain, rtol=1e-9, atol=1e-12)


def score_cam_without_shortcut(model, x, target):
    store = {}
    handle = model.relu2.register_forward_hook(lambda _m, _i, out: store.update(a=out.detach()))
    with torch.no_grad():
        model(x)
    handle.remove()
    a = store["a"]
    up = F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=True)
    low, high = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
    masks = (up - low) / (high - low + 1e-8)
    with torch.no_grad():
        scores = torch.stack([model(x[i] * masks[i][:, None])[:, target] for i in range(len(x))])
    return torch.einsum("nk,nkhw->nhw", scores.softmax(1), a)


def ablation_reference(model: nn.Module, x: torch.Tensor, layer: str, targets) -> np.ndarray:
    """(y_c - y_c^k) / y_c per channel k, the whole model run with map k of `layer` set to zero."""
    module = dict(model.named_modules())[layer]
    a, _g = layer_and_grads(model, x, layer, targets)
    rows = torch.arange(len(x))
    with torch.no_grad():
        original = model(x)[rows, targets].numpy()
        drops = np.zeros(a.shape[:2])
        for k in range(a.shape[1]):
            def zero_channel(_m, _i, out, k=k):
                out = out.clone()
                out[:, k] = 0
                return out
            handle = module.register_forward_hook(zero_channel)
            drops[:, k] = model(x)[rows, targets].numpy()
            handle.remove()
    weights = (original[:, None] - drops) / original[:, None]
    return (weights[:, :, None, None] * a).sum(1)


def test_ablation_cam_is_the_relative_drop_when_a_channel_is_zeroed(tiny, tiny_x):
    close(ablation_cam(tiny, tiny_x, TARGETS, layer="conv2", batch_size=3).values,
          ablation_reference(tiny, tiny_x, "conv2", TARGETS))


def test_ablation_cam_runs_the_early_layers_on_a_tiny_input_only_when_that_is_exact(tiny, tiny_x, monkeypatch):
    sizes = []
    tiny.register_forward_pre_hook(lambda _m, args: sizes.append(tuple(args[0].shape[-2:])))
    fast = ablation_cam(tiny, tiny_x, TARGETS, layer="conv2")
    assert (1, 1) in sizes  # the ablations ran on a 1x1 zero input (conv2 feeds only GAP + linear)
    sizes.clear()
    monkeypatch.setattr(ablation_module, "TAIL_SIDES", ())
    plain = ablation_cam(tiny, tiny_x, TARGETS, layer="conv2")
    assert set(sizes) == {(16, 16)}
    torch.testing.assert_close(fast.values, plain.values, rtol=1e-9, atol=1e-12)


class SkipNet(nn.Module):
    """A skip connection around the CAM layer: the tail reads the input too, so a tiny input is wrong."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.lift = nn.Conv2d(3, 4, 1)
            self.fc = nn.Linear(4, 2)
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc((torch.relu(self.conv(x)) + self.lift(x)).mean((2, 3)))


def test_ablation_cam_falls_back_to_full_images_when_the_tail_reads_the_input(tiny_x):
    model = SkipNet().eval()
    sizes = []
    model.register_forward_pre_hook(lambda _m, args: sizes.append(tuple(args[0].shape[-2:])))
    result = ablation_cam(model, tiny_x, [1, 0, 1], layer="conv")
    assert sizes[-1] == (16, 16)  # the tiny inputs failed the check; the ablations saw the images
    close(result.values, ablation_reference(model, tiny_x, "conv", [1, 0, 1]))


def test_ablation_cam_refuses_a_layer_that_runs_twice(tiny_x):
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1).double()
            self.fc = nn.Linear(3, 2).double()

        def forward(self, x):
            first = self.conv(x)
            return self.fc((first + self.conv(torch.relu(first))).mean((2, 3)))  # both calls reach the logits

    with pytest.raises(BadInputError, match="more than once"):
        ablation_cam(Twice().eval(), tiny_x, 0, layer="conv")


def test_fullgrad_sums_the_scaled_bias_and_input_gradients(tiny_x):
    model = TinyNet().eval()
    x = tiny_x.clone().requires_grad_(True)
    store = {}
    for name in ("conv1", "conv2"):
        getattr(model, name).register_forward_hook(lambda _m, _i, out, n=name: store.update({n: out}))
    logits = model(x)
    score = logits.gather(1, torch.tensor(TARGETS)[:, None]).sum()
    grad_x, g1, g2 = torch.autograd.grad(score, [x, store["conv1"], store["conv2"]])

    def psi(m: np.ndarray, size) -> np.ndarray:  # per channel min-max, upsample, sum over channels
        m = m - m.min((2, 3), keepdims=True)
        m = m / (1e-7 + m.max((2, 3), keepdims=True))
        up = F.interpolate(torch.from_numpy(m), size=size, mode="bilinear", align_corners=False).numpy()
        return up.sum(1)

    expected = psi(np.abs((grad_x * x).detach().numpy()), (16, 16))
    for grad, layer in ((g1, model.conv1), (g2, model.conv2)):
        expected = expected + psi(np.abs(grad.numpy() * layer.bias.detach().numpy()[None, :, None, None]), (16, 16))
    result = fullgrad(model, tiny_x, TARGETS)
    close(result.values, expected)
    assert result.params["bias_layers"] == ["conv1", "conv2"]


def test_fullgrad_reads_batchnorm_biases_under_an_inplace_relu(zoo_model, zoo_batch):
    """ZooNet: bias-free convs, BatchNorm then in-place-free ReLU; the same net with in-place ReLUs agrees."""
    import copy

    x, y = zoo_batch.images[:3], zoo_batch.labels[:3]
    inplace = copy.deepcopy(zoo_model)
    for module in inplace.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = True
    plain = fullgrad(zoo_model, x, y)
    assert len(plain.params["bias_layers"]) == 4
    torch.testing.assert_close(fullgrad(inplace, x, y).values, plain.values)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_guided_grad_cam_matches_captum(tiny, tiny_x, interpolation):
    captum_attr = pytest.importorskip("captum.attr", reason="Captum comes with the dev/bench extra")
    ours = guided_grad_cam(tiny, tiny_x, TARGETS, layer="conv2", interpolation=interpolation)
    theirs = captum_attr.GuidedGradCam(tiny, tiny.conv2).attribute(tiny_x, target=TARGETS,
                                                                   interpolate_mode=interpolation)
    torch.testing.assert_close(ours.values, theirs, rtol=1e-6, atol=1e-9)


def test_cam_variants_on_the_zoo_model_point_at_the_animal(zoo_model, zoo_batch):
    from fourlens.vision.metrics import pointing_game

    x, y, masks = zoo_batch.images[:16], zoo_batch.labels[:16], zoo_batch.masks[:16]
    for method in (hirescam, xgrad_cam, layer_cam, eigen_grad_cam, score_cam, ablation_cam):
        hits = pointing_game(method(zoo_model, x, y), masks, tolerance=3).accuracy
        assert hits >= 0.75, (method.__name__, hits)
    assert grad_cam(zoo_model, x, y).values.shape == (16, 16, 16)
