"""Dataset search: the streaming top-k's two position paths, NaN reporting, folder input, grids."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from fourlens.errors import BadInputError
from fourlens.vision import top_activations

from .test_top_activations import LAYERS, as_lists, brute_force

_module = importlib.import_module("fourlens.vision.top_activations")


@pytest.fixture
def data() -> torch.Tensor:
    return torch.randn(23, 3, 16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)


def test_static_path_for_accelerators_equals_brute_force(tiny, data, monkeypatch):
    """The accelerator path (positions of all k winners, static shapes) gives the same hits as the CPU path."""
    init = _module._Running.__init__
    monkeypatch.setattr(_module._Running, "__init__", lambda self, name, k, static: init(self, name, k, True))
    index = top_activations(tiny, data, LAYERS, k=5, batch_size=4)
    for layer in LAYERS:
        assert as_lists(index, layer) == brute_force(tiny, data, layer, 5, batch_size=4), layer


def test_nan_activations_are_reported(tiny, data):
    bad = data.clone()
    bad[17, 0, 3, 3] = float("nan")
    with pytest.raises(BadInputError, match="NaN"):
        top_activations(tiny, bad, "conv1", k=3, batch_size=4)


def test_receptive_field_is_computed_on_first_use(tiny, data):
    index = top_activations(tiny, data, ["conv2", "fc"], k=2)
    assert "field" not in index["conv2"].__dict__ and "first use" in index._repr_html_()
    assert index["conv2"].field.size == (8, 8) and index["fc"].field is None
    assert "(8, 8)" in index._repr_html_()


def _write_pngs(folder, images: torch.Tensor) -> torch.Tensor:
    """Save (n, 3, H, W) in [0, 1] as PNGs; return what a reader gets back (8-bit quantized)."""
    from fourlens.vision import present

    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        present.to_pil(image).save(folder / f"img_{i:03d}.png")
    return (images.clamp(0, 1) * 255).round() / 255


def test_folder_streams_in_batches_and_equals_the_tensor(tmp_path, zoo_model, monkeypatch):
    from fourlens.demo.zoo import make_zoo
    from fourlens.vision import ImageFolder

    stored = _write_pngs(tmp_path / "imgs", make_zoo(21, seed=3).images)
    loads: list[int] = []
    load = ImageFolder._load
    monkeypatch.setattr(ImageFolder, "_load", lambda self, a, b: loads.append(b - a) or load(self, a, b))
    layers = ["features.2", "features.11"]
    by_path = top_activations(zoo_model, tmp_path / "imgs", layers, k=4, batch_size=8)
    assert loads == [8, 8, 5]  # never the whole folder at once
    by_tensor = top_activations(zoo_model, stored, layers, k=4, batch_size=8)
    for layer in layers:
        assert as_lists(by_path, layer) == as_lists(by_tensor, layer)
    # Resizing and normalization as `explain` reads images (loading.load_images), then (x - mean) / std.
    from fourlens.vision.loading import load_images

    folder = ImageFolder(tmp_path / "imgs", size=48, mean=[0.5, 0.4, 0.3], std=[0.2])
    expected = (load_images(folder.files, 48) - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / 0.2
    assert torch.equal(torch.cat(list(folder.batches(6))), expected)
    assert torch.equal(folder[20], expected[20])
    assert torch.equal(folder.pixels(2), load_images(folder.files[2:3], 48)[0])
    index = top_activations(zoo_model, folder, layers, k=3, batch_size=5)
    reference = top_activations(zoo_model, expected, layers, k=3, batch_size=5)
    assert as_lists(index, "features.11") == as_lists(reference, "features.11")
    assert index.crops("features.2", 0, folder)[0].shape == (3, 3, 3)


def test_folder_errors(tmp_path, tiny):
    from fourlens.vision import ImageFolder

    with pytest.raises(BadInputError, match="not a folder"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="holds no images"):
        ImageFolder(tmp_path / "empty")
    _write_pngs(tmp_path / "mixed", torch.rand(2, 3, 16, 16))
    _write_pngs(tmp_path / "mixed2", torch.rand(1, 3, 20, 20))
    (tmp_path / "mixed2" / "img_000.png").rename(tmp_path / "mixed" / "z.png")
    with pytest.raises(BadInputError, match="different sizes"):
        top_activations(tiny.float(), tmp_path / "mixed", "conv1", k=1)
    (tmp_path / "mixed" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(BadInputError, match="broken.png is not an image"):
        ImageFolder(tmp_path / "mixed", size=16).pixels(0)
    with pytest.raises(BadInputError, match="mean needs 1 or 3"):
        ImageFolder(tmp_path / "mixed", mean=[0.1, 0.2])
    with pytest.raises(BadInputError, match="only 4 images"):
        top_activations(tiny.float(), ImageFolder(tmp_path / "mixed", size=16), "conv1", k=5)


def test_reconstructions_stay_in_the_field_and_grids_show_the_crops(zoo_model):
    from fourlens.demo.zoo import make_zoo
    from fourlens.vision import deconvnet_reconstruction, hit_reconstructions, top_grid

    images = make_zoo(40, seed=9).images
    index = top_activations(zoo_model, images, ["features.2", "features.8"], k=9, batch_size=16)
    top = index["features.8"]
    recs = hit_reconstructions(zoo_model, index, "features.8", 3, images)
    crops = index.crops("features.8", 3, images)
    assert [r.shape for r in recs] == [c.shape for c in crops]
    for hit, rec in zip(top.top(3), recs, strict=True):
        full = deconvnet_reconstruction(zoo_model, images[hit.image_index:hit.image_index + 1], "features.8", 3,
                                        position=(hit.y, hit.x))[0]
        # The projection of one unit lives inside that unit's receptive field: the crop holds all of it.
        assert full.abs().sum() > 0
        assert rec.abs().sum().item() == pytest.approx(full.abs().sum().item(), rel=1e-6)
    grid = top_grid(index, "features.2", images, channels=[0, 5], cell=30, per_row=2)
    assert grid.size == (2 * (92 + 8) + 8, 14 + 92 + 2 * 8)
    # The top-left cell of channel 0 is its strongest crop (3 x 3 pixels, drawn 10x with NEAREST).
    hit = index["features.2"].top(0)[0]
    crop = index.crops("features.2", 0, images)[0]
    if crop.shape[1:] == (3, 3):
        got = torch.from_numpy(np.array(grid.crop((8, 22, 38, 52)).resize((3, 3), 0))).reshape(9, 3).float()
        want = (crop.permute(1, 2, 0).reshape(9, 3) * 255).round()
        assert torch.allclose(got, want, atol=1), hit
    with_deconv = top_grid(index, "features.8", images, channels=[1], model=zoo_model, cell=20)
    assert with_deconv.size[0] > top_grid(index, "features.8", images, channels=[1], cell=20).size[0]


def test_reconstructions_need_a_chain_and_batches_need_one_size(tiny, data):
    from fourlens.vision import hit_reconstructions

    from .conftest import TinyNet

    functional = TinyNet(functional=True).eval()  # F.relu inside forward(): no module to reverse
    index = top_activations(functional, data, "conv2", k=2)
    with pytest.raises(BadInputError, match="not a plain chain"):
        hit_reconstructions(functional, index, "conv2", 0, data)
    with pytest.raises(BadInputError, match="images of one size"):
        top_activations(tiny, [data[:4], data[4:8, :, :12, :12]], "conv1", k=2)
