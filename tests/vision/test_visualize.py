"""Class model and neuron visualization (Simonyan et al. 2014; Yosinski et al. 2015) on the trained zoo model."""

from __future__ import annotations

import pytest
import torch

from fourlens.demo import zoo
from fourlens.errors import BadInputError
from fourlens.vision import class_model_visualization, neuron_visualization
from fourlens.vision.conformance import compare_snapshots, model_snapshot
from fourlens.vision.fourier import high_frequency_share

STEPS = 60


@pytest.mark.parametrize("target", range(len(zoo.CLASSES)))
def test_class_visualization_raises_target_probability(zoo_model, target):
    before = model_snapshot(zoo_model)
    result = class_model_visualization(zoo_model, target)  # the defaults: 200 steps, all regularizers on
    compare_snapshots(before, model_snapshot(zoo_model), "class_model_visualization")
    assert result.image.shape == (1, 3, zoo.IMAGE_SIZE, zoo.IMAGE_SIZE)
    assert len(result.trace) == 200
    chance = 1 / len(zoo.CLASSES)
    assert result.probability > 0.99 > chance
    # the objective rises overall: the last steps beat the first ones by a wide margin
    first, last = sum(result.trace[:5]) / 5, sum(result.trace[-5:]) / 5
    assert last > first + 1.0
    # and the final image's score agrees with the returned probability
    with torch.no_grad():
        probs = zoo_model(result.image).softmax(1)[0]
    assert probs[target].item() == pytest.approx(result.probability, abs=1e-6)
    assert int(probs.argmax()) == target
    # the target logit stands far above every other class (e^5 ~ 150 times more likely than the runner-up)
    with torch.no_grad():
        logits = zoo_model(result.image)[0]
    assert logits[target] - logits[torch.arange(len(zoo.CLASSES)) != target].max() > 5.0
    # Yosinski et al.'s point, measured: blur, jitter and L2 decay keep the image from being mostly
    # high-frequency patterns (share of spectral energy above 1/4 cycle per pixel). Measured at seed 0,
    # regularized vs free: 0.05 vs 0.40, 0.64 vs 0.86, 0.03 vs 0.48, 0.21 vs 0.66.
    free = class_model_visualization(zoo_model, target, blur_every=0, jitter=0, l2=0.0)
    assert free.probability > 0.99
    assert high_frequency_share(result.image) < 0.85 * high_frequency_share(free.image)


def test_l2_term_lowers_image_norm(zoo_model):
    kwargs = dict(steps=STEPS, blur_every=0, jitter=0)
    free = class_model_visualization(zoo_model, 1, l2=0.0, **kwargs)
    decayed = class_model_visualization(zoo_model, 1, l2=0.05, **kwargs)
    assert decayed.image.norm() < 0.8 * free.image.norm()


def test_same_seed_same_image_other_seed_differs(zoo_model):
    a = class_model_visualization(zoo_model, 3, steps=20, seed=4)
    b = class_model_visualization(zoo_model, 3, steps=20, seed=4)
    c = class_model_visualization(zoo_model, 3, steps=20, seed=5)
    assert torch.equal(a.image, b.image) and a.trace == b.trace
    assert not torch.equal(a.image, c.image)


def test_clipping_regularizers_zero_pixels(zoo_model):
    result = class_model_visualization(zoo_model, 0, steps=10, clip_pixel_norm=30.0, clip_contribution=20.0)
    zero = (result.image[0].abs().sum(0) == 0).float().mean().item()
    assert zero >= 0.3  # at least the clipped percentile of pixels is exactly zero after the last step


def test_neuron_visualization_raises_activation_and_stops_at_layer(zoo_model):
    layer, channel = "features.5", 7
    later = zoo_model.features[6]
    calls = []

    def spy(*_):
        calls.append(1)

    before = model_snapshot(zoo_model)
    handle = later.register_forward_hook(spy)
    try:
        handle_count = len(later._forward_hooks)
        result = neuron_visualization(zoo_model, layer, channel, steps=STEPS)
        assert not calls, "layers after `layer` must not run"
        assert len(later._forward_hooks) == handle_count
    finally:
        handle.remove()
    compare_snapshots(before, model_snapshot(zoo_model), "neuron_visualization")
    assert result.probability is None and result.image.shape == (1, 3, 64, 64)
    store = {}
    h = zoo_model.features[5].register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        with torch.no_grad():
            noise = 0.5 + 0.2 * torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
            zoo_model(noise)
            random_start = store["a"][0, channel].mean().item()
            zoo_model(result.image)
            reached = store["a"][0, channel].mean().item()
    finally:
        h.remove()
    assert reached == pytest.approx(result.activation, rel=1e-4, abs=1e-5)
    assert reached > random_start + 1.0


def test_neuron_visualization_one_unit(zoo_model):
    result = neuron_visualization(zoo_model, zoo_model.features[2], 1, position=(10, 20), steps=30)
    store = {}
    h = zoo_model.features[2].register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        with torch.no_grad():
            zoo_model(result.image)
    finally:
        h.remove()
    unit = store["a"][0, 1]
    assert unit[10, 20].item() == pytest.approx(result.activation, rel=1e-4, abs=1e-5)
    assert unit[10, 20].item() > 0 and result.trace[-1] > result.trace[0]


def test_errors_and_model_left_as_found(zoo_model):
    before = model_snapshot(zoo_model)
    with pytest.raises(BadInputError, match="out of range"):
        class_model_visualization(zoo_model, 4, steps=2)
    with pytest.raises(BadInputError, match="class index"):
        class_model_visualization(zoo_model, "zebra", steps=2)
    with pytest.raises(BadInputError, match="no layer named"):
        neuron_visualization(zoo_model, "features.99", 0, steps=2)
    with pytest.raises(BadInputError, match="out of range"):
        neuron_visualization(zoo_model, "features.5", 999, steps=2)
    with pytest.raises(BadInputError, match="outside"):
        neuron_visualization(zoo_model, "features.5", 0, position=(99, 0), steps=2)
    with pytest.raises(BadInputError, match="percentile"):
        class_model_visualization(zoo_model, 0, steps=2, clip_pixel_norm=100)
    with pytest.raises(BadInputError, match="steps"):
        class_model_visualization(zoo_model, 0, steps=0)
    compare_snapshots(before, model_snapshot(zoo_model), "visualization failing on bad input")


def test_result_dict_and_html(zoo_model):
    result = class_model_visualization(zoo_model, 0, steps=3, input_shape=(3, 32, 32))
    assert result.image.shape == (1, 3, 32, 32)
    d = result.to_dict()
    assert d["kind"] == "class" and d["target"] == 0 and len(d["trace"]) == 3
    assert "data:image/png;base64" in result._repr_html_()


def test_progress_bar_changes_nothing_but_the_display(zoo_model):
    quiet = class_model_visualization(zoo_model, 1, steps=4, parameterization="fourier")
    shown = class_model_visualization(zoo_model, 1, steps=4, parameterization="fourier", progress=True)
    assert torch.equal(quiet.image, shown.image) and quiet.trace == shown.trace
