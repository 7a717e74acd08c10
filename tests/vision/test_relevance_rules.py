"""Input x Gradient, DeepLIFT, GradientSHAP and LRP against Captum and against their definitions.

LRP also agrees with Zennit, its reference, to float64 rounding for every composite
(benchmarks/vision/lrp_zennit_check.py, run in Zennit's own environment: Zennit needs torchvision).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fourlens.vision import deeplift, gradient_shap, input_x_gradient, integrated_gradients, lrp
from fourlens.vision.attribution.lrp import composite_rules
from fourlens.vision.attribution.lrp_rules import Rule

captum_attr = pytest.importorskip("captum.attr", reason="Captum comes with the dev/bench extra")

TARGETS = [0, 3, 1]


class PoolFree(nn.Module):
    """TinyNet without its max pool (Captum's DeepLIFT max-pool rule does not sum to the difference)."""

    def __init__(self, functional: bool = False, inplace: bool = False) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.conv1, self.relu1 = nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=inplace)
            self.conv2, self.relu2 = nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=inplace)
            self.gap, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, 5)
        self.functional = functional
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu1, relu2 = (torch.relu, nn.functional.relu) if self.functional else (self.relu1, self.relu2)
        return self.fc(self.gap(relu2(self.conv2(relu1(self.conv1(x))))).flatten(1))


def close(ours: torch.Tensor, theirs: torch.Tensor, rtol: float = 1e-7) -> None:
    torch.testing.assert_close(ours, theirs.to(ours.dtype), rtol=rtol, atol=rtol * theirs.abs().max().item())


def test_input_x_gradient_matches_captum(tiny, tiny_x):
    theirs = captum_attr.InputXGradient(tiny).attribute(tiny_x, target=TARGETS)
    close(input_x_gradient(tiny, tiny_x, TARGETS).values, theirs)


@pytest.mark.parametrize("kind", [{}, {"functional": True}, {"inplace": True}])
def test_deeplift_matches_captum_and_sums_to_the_difference(tiny_x, kind):
    reference = PoolFree().eval()  # Captum hooks nn.ReLU modules only; ours sees functional ReLUs too
    model = PoolFree(**kind).eval()
    baseline = torch.full_like(tiny_x, 0.2)
    ours = deeplift(model, tiny_x, TARGETS, baseline=0.2)
    theirs, delta = captum_attr.DeepLift(reference).attribute(tiny_x, baselines=baseline, target=TARGETS,
                                                             return_convergence_delta=True)
    close(ours.values, theirs, rtol=1e-10)
    torch.testing.assert_close(ours.delta, delta.to(ours.delta.dtype), atol=1e-12, rtol=0)
    # not the gradient: the Rescale rule really changed the backward pass
    assert not torch.allclose(ours.values, input_x_gradient(model, tiny_x - 0.2, TARGETS).values)


def test_deeplift_through_max_pooling_still_sums_to_the_difference(tiny, tiny_x):
    ours = deeplift(tiny, tiny_x, TARGETS, baseline=0.2)
    with torch.no_grad():
        rise = tiny(tiny_x)[torch.arange(3), TARGETS] - tiny(torch.full_like(tiny_x, 0.2))[torch.arange(3), TARGETS]
    assert ours.delta.abs().max() < 1e-12 * rise.abs().max()
    # Captum's max-pool rule misses the difference by a sizeable share on the same net
    _, delta = captum_attr.DeepLift(tiny).attribute(tiny_x, baselines=0.2, target=TARGETS,
                                                    return_convergence_delta=True)
    assert delta.abs().max() > 0.05 * rise.abs().max()


def test_gradient_shap_is_exact_on_a_linear_model_and_converges_to_ig(tiny, tiny_x):
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4)).double().eval()
    pool = torch.rand(5, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    # several baselines: (x - the mean of the drawn baselines) * w, the drawn mean a mix of the pool's images
    weight = linear[1].weight.detach().view(4, 3, 16, 16)[[0, 1, 2]]
    drawn = tiny_x - gradient_shap(linear, tiny_x, [0, 1, 2], baselines=pool, n_samples=20).values / weight
    mix = torch.linalg.lstsq(pool.flatten(1).T, drawn.flatten(1).T).solution  # (5, n): counts / 20
    torch.testing.assert_close((mix * 20).round(), mix * 20, atol=1e-6, rtol=0)
    assert torch.allclose(mix.sum(0), torch.ones(3, dtype=torch.float64))
    # one baseline, no noise: exactly (x - x') * w for both, whatever the draws
    single = gradient_shap(linear, tiny_x, [0, 1, 2], baselines=pool[:1], n_samples=7)
    close(single.values, captum_attr.GradientShap(linear).attribute(tiny_x, baselines=pool[:1], target=[0, 1, 2],
                                                                   n_samples=7), rtol=1e-10)
    # on a ReLU net the estimate converges to integrated gradients (same baseline, no noise)
    ig = integrated_gradients(tiny, tiny_x, TARGETS, steps=200).values
    estimate = gradient_shap(tiny, tiny_x, TARGETS, n_samples=2000, batch_size=500).values
    assert ((estimate - ig).abs().sum() / ig.abs().sum()) < 0.05
    again = gradient_shap(tiny, tiny_x, TARGETS, n_samples=2000, batch_size=300).values
    torch.testing.assert_close(again, estimate)  # the draws belong to the samples, not the batches


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.relu, self.fc2 = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0], [-0.5, 1.0, 1.0], [2.0, 0.0, 1.0]]))
            self.fc1.bias.copy_(torch.tensor([0.1, -0.2, 0.0, 0.3]))
            self.fc2.weight.copy_(torch.tensor([[1.0, -1.0, 2.0, 0.5], [0.2, 0.3, -0.4, 1.0]]))
            self.fc2.bias.zero_()
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x.flatten(1))))


def test_lrp_epsilon_by_hand():
    model = TwoLayer().eval()
    x = torch.tensor([[[[0.5]], [[1.0]], [[-0.3]]]], dtype=torch.float64)  # (1, 3, 1, 1)
    v = x.flatten(1)[0]
    z1 = (model.fc1.weight @ v + model.fc1.bias).detach()
    a = z1.clamp(min=0)
    z2 = (model.fc2.weight[0] * a).detach()  # target class 0, no bias: s = z2.sum()
    relevance_hidden = z2  # LRP-0 at the last layer: R_j = a_j w_j (the score split over the hidden units)
    r_in = v * (model.fc1.weight.detach().T @ (relevance_hidden / z1))  # LRP-0 below (eps -> 0)
    ours = lrp(model, x, 0, composite="epsilon", epsilon=1e-12)
    torch.testing.assert_close(ours.values.flatten(), r_in, rtol=1e-9, atol=1e-12)
    assert float(ours.delta) == pytest.approx(float(r_in.sum() - z2.sum()))


def test_lrp_epsilon_matches_captum(tiny_x):
    model = PoolFree().eval()
    ours = lrp(model, tiny_x, TARGETS, composite="epsilon", epsilon=1e-9, stabilizer=1e-9)
    close(ours.values, captum_attr.LRP(model).attribute(tiny_x, target=TARGETS), rtol=1e-6)


def test_lrp_merges_batchnorm_into_the_layer_before_it(zoo_model, zoo_batch):
    model = copy.deepcopy(zoo_model).double().eval()
    x = zoo_batch.images[:2].double()
    folded = copy.deepcopy(model)
    layers = list(folded.features)
    for i, module in enumerate(layers):
        if isinstance(module, nn.BatchNorm2d):
            conv = layers[i - 1]
            scale = module.weight / torch.sqrt(module.running_var + module.eps)
            with torch.no_grad():
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias = nn.Parameter((-module.running_mean * scale + module.bias).detach())
            layers[i] = nn.Identity()
    folded.features = nn.Sequential(*layers)
    for composite in ("epsilon_plus", "epsilon_gamma_box"):
        close(lrp(model, x, [0, 1], composite=composite).values, lrp(folded, x, [0, 1], composite=composite).values,
              rtol=1e-9)
    unmerged = lrp(model, x, [0, 1], composite="epsilon_plus", merge_batchnorm=False).values
    assert not torch.allclose(unmerged, lrp(model, x, [0, 1], composite="epsilon_plus").values)


def test_lrp_composites_pick_zennits_rules(tiny):
    rules = composite_rules(tiny, "epsilon_gamma_box", low=-1.0, high=2.0)
    assert rules[tiny.conv1].name == "zbox" and rules[tiny.conv2].name == "gamma"
    assert rules[tiny.fc] == Rule("epsilon", 1e-6) and rules[tiny.gap].name == "norm"
    assert rules[tiny.relu1].name == "pass" and tiny.pool not in rules
    assert composite_rules(tiny, "epsilon_plus")[tiny.conv1].name == "zplus"
    with pytest.raises(ValueError, match="composite"):
        composite_rules(tiny, "epsilon_beta")
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        Rule("alpha_beta", alpha=2.0, beta=2.0)


def test_lrp_conserves_the_score_on_a_bias_free_relu_net(tiny_x):
    model = PoolFree().eval()
    for module in (model.conv1, model.conv2, model.fc):
        module.bias = None
    result = lrp(model, tiny_x, TARGETS, composite="epsilon", epsilon=1e-12, stabilizer=1e-12)
    with torch.no_grad():
        scores = model(tiny_x)[torch.arange(3), TARGETS]
    assert (result.delta.abs() / scores.abs()).max() < 1e-8
