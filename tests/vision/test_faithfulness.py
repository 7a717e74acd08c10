"""ROAD, faithfulness correlation, infidelity and max-sensitivity: their definitions on models where the
answer is known, Captum's `infidelity` / `sensitivity_max` on the same perturbations, and the zoo model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fourlens.vision import grad_cam, input_x_gradient, saliency
from fourlens.vision.metrics import (
    faithfulness_correlation,
    infidelity,
    linear_imputation,
    max_sensitivity,
    road,
)
from fourlens.vision.metrics.robustness import perturbation


def linear_model() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4)).double().eval()


def images(n: int = 3, size: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(5))


def test_linear_imputation_makes_every_removed_pixel_the_mean_of_its_neighbours():
    rng = np.random.default_rng(0)
    image = rng.random((3, 10, 12))
    removed = rng.random((10, 12)) < 0.6
    filled = linear_imputation(image, removed)
    assert np.array_equal(filled[:, ~removed], image[:, ~removed])
    padded = np.pad(filled, ((0, 0), (1, 1), (1, 1)))
    inside = np.pad(np.ones((10, 12)), 1)
    weights = {(1, 1): 1 / 12, (0, 1): 1 / 6, (-1, 1): 1 / 12, (1, -1): 1 / 12, (0, -1): 1 / 6, (-1, -1): 1 / 12,
               (1, 0): 1 / 6, (-1, 0): 1 / 6}
    total = sum(w * np.roll(padded, (-dr, -dc), axis=(1, 2)) for (dr, dc), w in weights.items())[:, 1:-1, 1:-1]
    mass = sum(w * np.roll(inside, (-dr, -dc), axis=(0, 1)) for (dr, dc), w in weights.items())[1:-1, 1:-1]
    np.testing.assert_allclose(filled[:, removed], (total / mass)[:, removed], rtol=1e-10)


def test_road_on_the_zoo_model_prefers_grad_cam_to_a_random_map(zoo_model, zoo_batch):
    x, y = zoo_batch.images[:8], zoo_batch.labels[:8]
    cam = grad_cam(zoo_model, x, y)
    noise = torch.rand(8, 64, 64, generator=torch.Generator().manual_seed(0))
    ours, random = road(zoo_model, x, cam, y, batch_size=16), road(zoo_model, x, noise, y)
    assert ours.morf.shape == (8, 9) and ours.lerf.shape == (8, 9)
    assert ours.morf_mean.mean() < random.morf_mean.mean() and ours.road_score.mean() > random.road_score.mean()
    again = road(zoo_model, x, cam, y, batch_size=5)
    torch.testing.assert_close(again.morf, ours.morf)  # the noise belongs to the image, not the batch
    with pytest.raises(ValueError, match="fractions"):
        road(zoo_model, x, cam, y, fractions=[0.0, 0.5])


def test_faithfulness_correlation_is_one_for_the_exact_linear_attribution():
    model, x = linear_model(), images()
    exact = input_x_gradient(model, x, [0, 1, 2])  # for a linear model, what removing S to 0 costs, exactly
    result = faithfulness_correlation(model, x, exact, [0, 1, 2], runs=20, subset_size=10)
    torch.testing.assert_close(result.correlation, torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(result.attribution_sums, result.score_drops)
    random = faithfulness_correlation(model, x, torch.randn(3, 3, 8, 8, dtype=torch.float64,
                                                            generator=torch.Generator().manual_seed(1)),
                                      [0, 1, 2], runs=20, subset_size=10)
    assert random.correlation.abs().max() < 0.9


def replay(kind: str, scale: float, n: int, samples: int, seed: int = 0):
    """Captum perturbation functions drawing exactly fourlens's perturbations (inputs repeat-interleaved)."""
    calls = {"count": 0}

    def draws(inputs: torch.Tensor) -> torch.Tensor:
        index = [(i, j) for i in range(n) for j in range(samples)]
        return torch.stack([perturbation(tuple(inputs.shape[1:]), seed, i, j, kind, scale, inputs.dtype,
                                         inputs.device) for i, j in index])

    def for_infidelity(inputs: torch.Tensor):
        noise = draws(inputs)
        return noise, inputs - noise

    def for_sensitivity(inputs, perturb_radius: float = scale):
        # sensitivity_max calls once per sample with the inputs of all images (not interleaved), as a tuple
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        j = calls["count"]
        calls["count"] += 1
        return inputs + torch.stack([perturbation(tuple(inputs.shape[1:]), seed, i, j, kind, scale, inputs.dtype,
                                                  inputs.device) for i in range(inputs.shape[0])])

    return for_infidelity, for_sensitivity


def test_infidelity_and_max_sensitivity_match_captum_on_the_same_perturbations(tiny, tiny_x):
    metrics = pytest.importorskip("captum.metrics", reason="Captum comes with the dev/bench extra")
    targets = torch.tensor([0, 3, 1])
    attribution = saliency(tiny, tiny_x, targets)
    for normalize in (False, True):
        ours = infidelity(tiny, tiny_x, attribution, targets, samples=6, sigma=0.1, normalize=normalize)
        perturb, _ = replay("gaussian", 0.1, 3, 6)
        theirs = metrics.infidelity(tiny, perturb, tiny_x, attribution.values, target=targets, n_perturb_samples=6,
                                    normalize=normalize)
        torch.testing.assert_close(ours.infidelity, theirs.to(ours.infidelity.dtype), rtol=1e-8, atol=1e-18)
    ours = max_sensitivity(saliency, tiny, tiny_x, targets, samples=4, radius=0.05)
    _, perturb = replay("uniform", 0.05, 3, 4)
    def explain(inputs, target):  # Captum's convention: a tuple of inputs in, a tuple of attributions out
        if isinstance(inputs, tuple):
            return (saliency(tiny, inputs[0], target).values,)
        return saliency(tiny, inputs, target).values

    theirs = metrics.sensitivity_max(explain, tiny_x,
                                     perturb_func=perturb, perturb_radius=0.05, n_perturb_samples=4,
                                     max_examples_per_batch=3, target=targets)
    torch.testing.assert_close(ours.max_sensitivity, theirs.to(ours.max_sensitivity.dtype), rtol=1e-8, atol=1e-12)


def test_a_linear_models_gradient_is_perfectly_faithful_and_stable():
    model, x = linear_model(), images()
    gradient = saliency(model, x, [0, 1, 2])
    assert infidelity(model, x, gradient, [0, 1, 2], normalize=False).infidelity.max() < 1e-20
    assert max_sensitivity(saliency, model, x, [0, 1, 2], samples=3).max_sensitivity.max() < 1e-12
