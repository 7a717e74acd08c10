"""top_activations: equals a brute-force top-k over fully materialised activations, whatever the batching."""

from __future__ import annotations

import pytest
import torch

from fourlens.errors import BadInputError
from fourlens.vision import ActivationIndex, receptive_field, top_activations
from fourlens.vision.conformance import compare_snapshots, model_snapshot

from .conftest import TinyNet

LAYERS = ["conv1", "relu1", "pool", "conv2", "relu2", "fc"]


@pytest.fixture
def data() -> torch.Tensor:
    return torch.randn(23, 3, 16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)


def brute_force(model: torch.nn.Module, x: torch.Tensor, layer: str, k: int,
                batch_size: int = 1000) -> list[list[tuple]]:
    """All activations of all images materialised; per channel, per image max over positions; sort.

    The forward runs in the same batches as the code under test, so the activations are bit-identical
    (BLAS may round differently for another batch size)."""
    acts = []
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda _m, _i, out: acts.append(out.clone()))
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                model(x[start:start + batch_size])
    finally:
        handle.remove()
    a = torch.cat(acts)
    if a.ndim == 2:
        a = a[:, :, None, None]
    n, c, _, w = a.shape
    flat = a.reshape(n, c, -1).tolist()
    result = []
    for ch in range(c):
        hits = []
        for i in range(n):
            values = flat[i][ch]
            best = max(values)
            pos = values.index(best)  # the first position holding the maximum
            hits.append((i, pos // w, pos % w, best))
        hits.sort(key=lambda h: (-h[3], h[0]))
        result.append(hits[:k])
    return result


def as_lists(index: ActivationIndex, layer: str) -> list[list[tuple]]:
    top = index[layer]
    return [[tuple(h) for h in top.top(ch)] for ch in range(top.channels)]


def test_equals_brute_force(tiny, data):
    index = top_activations(tiny, data, LAYERS, k=5, batch_size=4)
    assert list(index) == LAYERS and index.n_images == 23 and index.k == 5
    for layer in LAYERS:
        assert as_lists(index, layer) == brute_force(tiny, data, layer, 5, batch_size=4), layer
    assert index["conv2"].channels == 8 and len(index["conv2"].top(3)) == 5


def test_same_result_for_every_batch_size_and_iterable(tiny, data):
    reference = top_activations(tiny, data, LAYERS, k=9, batch_size=64)
    variants = [
        top_activations(tiny, data, LAYERS, k=9, batch_size=1, progress=True),
        top_activations(tiny, data, LAYERS, k=9, batch_size=7),
        top_activations(tiny, list(data), LAYERS, k=9, batch_size=5, progress=True),  # single images, grouped
        top_activations(tiny, (data[i:i + 6] for i in range(0, 23, 6)), LAYERS, k=9),  # a generator of batches
        top_activations(tiny, [(data[:10], None), (data[10:], None)], LAYERS, k=9),  # (images, labels) pairs
    ]
    for other in variants:
        for layer in LAYERS:
            # The model's own arithmetic may differ in the last bit between batch sizes (BLAS blocking):
            # images and positions must match exactly, values to rounding.
            got, want = as_lists(other, layer), as_lists(reference, layer)
            assert [[h[:3] for h in ch] for ch in got] == [[h[:3] for h in ch] for ch in want], layer
            assert torch.allclose(torch.tensor([[h[3] for h in ch] for ch in got]),
                                  torch.tensor([[h[3] for h in ch] for ch in want]), rtol=1e-12, atol=1e-14)


def test_ties_go_to_the_lower_image_index(tiny):
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64).repeat(4, 1, 1, 1)
    for bs in (1, 3, 8):
        hits = top_activations(tiny, x, "conv1", k=4, batch_size=bs)["conv1"].top(0)
        values = [h.value for h in hits]
        assert values == sorted(values, reverse=True)
        indices = [h.image_index for h in hits]
        assert indices in ([0, 2, 4, 6], [1, 3, 5, 7])


def test_layers_as_modules(tiny, data):
    by_module = top_activations(tiny, data, [tiny.conv2], k=3)
    assert list(by_module) == ["conv2"]
    assert as_lists(by_module, "conv2") == as_lists(top_activations(tiny, data, "conv2", k=3), "conv2")


@pytest.mark.parametrize("layer", ["conv1", "pool", "relu2"])
def test_crops_are_the_receptive_field_and_hold_everything_the_unit_sees(tiny, data, layer):
    index = top_activations(tiny, data, layer, k=4)
    field = receptive_field(tiny, layer, input_shape=(1, 3, 16, 16))
    assert index[layer].field.size == field.size
    module = dict(tiny.named_modules())[layer]
    seen: dict[str, torch.Tensor] = {}
    for channel in (0, 2):
        crops = index.crops(layer, channel, data)
        hits = index[layer].top(channel)
        assert len(crops) == len(hits) == 4
        for crop, hit in zip(crops, hits, strict=True):
            (r0, r1), (c0, c1) = field.box(hit.y, hit.x, clip_to=(16, 16))
            assert crop.shape == (3, r1 - r0, c1 - c0)
            assert crop.shape[1] <= field.size[0] and crop.shape[2] <= field.size[1]
            unclipped = field.box(hit.y, hit.x)
            if unclipped == ((r0, r1), (c0, c1)):
                assert tuple(crop.shape[1:]) == field.size
            assert torch.equal(crop, data[hit.image_index, :, r0:r1, c0:c1])
            # The unit sees only its crop: blanking every other pixel leaves its value unchanged.
            masked = torch.zeros_like(data[hit.image_index:hit.image_index + 1])
            masked[0, :, r0:r1, c0:c1] = crop
            handle = module.register_forward_hook(lambda _m, _i, out: seen.__setitem__("a", out.clone()))
            try:
                with torch.no_grad():
                    tiny(masked)
            finally:
                handle.remove()
            assert seen["a"][0, channel, hit.y, hit.x].item() == pytest.approx(hit.value, rel=1e-12, abs=1e-12)


def test_deeper_layers_give_larger_crops(tiny, data):
    index = top_activations(tiny, data, ["conv1", "conv2"], k=1)
    assert index.crops("conv1", 0, data)[0].numel() < index.crops("conv2", 0, data)[0].numel()


def test_model_left_untouched():
    model = TinyNet(inplace=True).train()
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    before = model_snapshot(model)
    index = top_activations(model, x, ["conv1", "conv2", "fc"], k=2, batch_size=4)
    compare_snapshots(before, model_snapshot(model), "top_activations")
    assert model.training
    with pytest.raises(BadInputError):
        top_activations(model, x, ["conv1", "nope"], k=2)
    compare_snapshots(before, model_snapshot(model), "top_activations (failing)")
    # conv1 is followed by an in-place ReLU: the hits are still the conv's own output, as without it
    assert as_lists(index, "conv1") == brute_force(TinyNet().eval(), x, "conv1", 2, batch_size=4)


def test_errors(tiny, data):
    with pytest.raises(BadInputError, match="no layer named 'conv9'"):
        top_activations(tiny, data, "conv9")
    with pytest.raises(BadInputError, match="only 23 images"):
        top_activations(tiny, data, "conv1", k=24)
    with pytest.raises(BadInputError, match="only 23 images"):
        top_activations(tiny, iter(list(data)), "conv1", k=24)
    with pytest.raises(BadInputError, match="k must be"):
        top_activations(tiny, data, "conv1", k=0)
    with pytest.raises(BadInputError, match="floating point"):
        top_activations(tiny, (data * 100).long(), "conv1")
    with pytest.raises(BadInputError, match="image"):
        top_activations(tiny, ["not an image"], "conv1")
    with pytest.raises(BadInputError, match="the model failed on the batch of images 0..22"):
        top_activations(tiny, data[:, :2], "conv1")  # two channels where the model takes three
    index = top_activations(tiny, data, ["conv1", "fc"], k=2)
    with pytest.raises(BadInputError, match="channels 0..5"):
        index["conv1"].top(6)
    with pytest.raises(BadInputError, match="no layer 'conv2'"):
        index["conv2"]
    with pytest.raises(BadInputError, match="no spatial receptive field"):
        index.crops("fc", 0, data)
    assert index.to_dict()["layers"]["conv1"]["field"]["size"] == [3, 3]
    assert "top-2 activations" in index._repr_html_()


def test_residual_net_crops_from_the_measured_field():
    from .test_receptive_field import ResNet

    model = ResNet().eval()
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    index = top_activations(model, x, ["block1", "block2"], k=3, batch_size=5)
    for layer in ("block1", "block2"):
        assert as_lists(index, layer) == brute_force(model, x, layer, 3, batch_size=5)
        assert index[layer].field.method == "gradient"
    module, seen = model.block1, {}
    for hit in index["block1"].top(1):
        (crop,) = [c for c, h in zip(index.crops("block1", 1, x), index["block1"].top(1), strict=True) if h == hit]
        (r0, r1), (c0, c1) = index["block1"].field.box(hit.y, hit.x, clip_to=(32, 32))
        masked = torch.zeros_like(x[:1])
        masked[0, :, r0:r1, c0:c1] = crop
        handle = module.register_forward_hook(lambda _m, _i, out: seen.__setitem__("a", out.clone()))
        try:
            with torch.no_grad():
                model(masked)
        finally:
            handle.remove()
        assert seen["a"][0, 1, hit.y, hit.x].item() == pytest.approx(hit.value, rel=1e-5, abs=1e-6)
