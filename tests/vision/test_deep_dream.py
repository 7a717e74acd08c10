"""deep_dream (Mordvintsev et al. 2015) on the trained zoo model and the tiny CNN."""

from __future__ import annotations

import pytest
import torch

from fourlens.demo import zoo
from fourlens.errors import BadInputError
from fourlens.vision import deep_dream
from fourlens.vision.conformance import compare_snapshots, model_snapshot
from fourlens.vision.fourier import high_frequency_share


def _layer_objective(model, layer, x, channel=None):
    store = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        with torch.no_grad():
            model(x.reshape(1, *x.shape[-3:]))
    finally:
        handle.remove()
    a = store["a"] if channel is None else store["a"][:, channel]
    return a.pow(2).mean().item()


@pytest.mark.parametrize("layer", ["features.5", "features.11"])
def test_dream_raises_the_layer_objective_and_keeps_the_shape(zoo_model, layer):
    image = zoo.make_zoo(2, seed=3).images[0]  # (3, 64, 64): a real zoo image
    before = model_snapshot(zoo_model)
    result = deep_dream(zoo_model, image, layer)
    compare_snapshots(before, model_snapshot(zoo_model), "deep_dream")
    assert result.image.shape == image.shape and result.original.shape == image.shape
    start = _layer_objective(zoo_model, layer, image)
    end = _layer_objective(zoo_model, layer, result.image)
    assert result.start == pytest.approx(start, rel=1e-5) and result.end == pytest.approx(end, rel=1e-5)
    assert end > 4 * start  # measured: about 10x at features.5 and 28x at features.11
    assert len(result.trace) == 3 * 20
    # clipped to the input's value range, and still the same picture underneath (not replaced by noise)
    assert image.min() - 1e-6 <= result.image.min() and result.image.max() <= image.max() + 1e-6
    assert torch.corrcoef(torch.stack([image.flatten(), result.image.flatten()]))[0, 1] > 0.5


def test_dream_one_channel_with_octaves_and_a_batch_shape(zoo_model):
    image = zoo.make_zoo(1, seed=4).images  # (1, 3, 64, 64) in, (1, 3, 64, 64) out
    result = deep_dream(zoo_model, image, "features.8", channel=5, octaves=2, steps_per_octave=15,
                        objective="mean")
    assert result.image.shape == (1, 3, 64, 64)
    assert result.end > 1.5 * result.start > 0  # measured: 0.14 -> 0.30
    assert result.channel == 5 and result.to_dict()["params"]["objective"] == "mean"
    html = result._repr_html_()
    assert html.count("data:image/png;base64") == 2  # before and after


def test_forward_stops_at_the_layer(zoo_model):
    calls = []
    handle = zoo_model.classifier.register_forward_hook(lambda *_: calls.append(1))
    try:
        deep_dream(zoo_model, torch.rand(3, 64, 64), "features.5", octaves=1, steps_per_octave=3)
    finally:
        handle.remove()
    assert not calls


def test_model_left_as_found_in_train_mode_with_grads(tiny, tiny_x):
    tiny.train()
    tiny.conv1.weight.grad = torch.ones_like(tiny.conv1.weight)
    tiny.fc.weight.requires_grad_(False)
    before = model_snapshot(tiny)
    result = deep_dream(tiny, tiny_x[0], "relu2", octaves=2, octave_scale=1.3, steps_per_octave=5, seed=1)
    compare_snapshots(before, model_snapshot(tiny), "deep_dream")
    assert tiny.training and result.end > result.start
    again = deep_dream(tiny, tiny_x[0], "relu2", octaves=2, octave_scale=1.3, steps_per_octave=5, seed=1)
    assert torch.equal(again.image, result.image)  # deterministic in the seed


def test_bad_input(tiny, tiny_x):
    before = model_snapshot(tiny)
    with pytest.raises(BadInputError, match="no layer named"):
        deep_dream(tiny, tiny_x[0], "conv9")
    with pytest.raises(BadInputError, match="out of range"):
        deep_dream(tiny, tiny_x[0], "relu2", channel=8, octaves=1, steps_per_octave=1)
    with pytest.raises(BadInputError, match="one image"):
        deep_dream(tiny, tiny_x, "relu2")
    with pytest.raises(BadInputError, match="smallest octave"):
        deep_dream(tiny, tiny_x[0], "relu2", octaves=5, octave_scale=2.0)
    with pytest.raises(BadInputError, match="objective"):
        deep_dream(tiny, tiny_x[0], "relu2", objective="max")
    compare_snapshots(before, model_snapshot(tiny), "deep_dream failing on bad input")


def test_fourier_dream_rises_with_smoother_detail(zoo_model):
    image = zoo.make_zoo(2, seed=3).images[0]
    pixel = deep_dream(zoo_model, image, "features.8")
    fourier = deep_dream(zoo_model, image, "features.8", parameterization="fourier")
    assert fourier.image.shape == image.shape and fourier.params["parameterization"] == "fourier"
    assert fourier.end > 2.5 * fourier.start  # measured: 0.44 -> 1.94 (pixel: -> 6.04)
    # the detail the dream added: measured high-frequency share 0.04 (Fourier) vs 0.16 (pixel)
    assert high_frequency_share(fourier.image - image) < 0.5 * high_frequency_share(pixel.image - image)
    with pytest.raises(BadInputError, match="parameterization"):
        deep_dream(zoo_model, image, "features.8", parameterization="wavelet")


def test_torchscript_is_refused_by_the_hooked_methods():
    from torch import nn

    from fourlens.vision import neuron_visualization

    scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                              nn.Linear(4, 2)))
    with pytest.raises(BadInputError, match="eager nn.Module"):
        deep_dream(scripted, torch.rand(3, 16, 16), "1", octaves=1)
    with pytest.raises(BadInputError, match="eager nn.Module"):
        neuron_visualization(scripted, "1", 0, steps=2, input_shape=(3, 16, 16))
