"""The zoo data set and model: masks are the animals, the model learns them, the cache works."""

from __future__ import annotations

import pytest
import torch

from fourlens.demo import zoo


def test_generator_is_deterministic_and_balanced():
    a, b = zoo.make_zoo(40, seed=3), zoo.make_zoo(40, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, zoo.make_zoo(40, seed=4).images)
    assert torch.bincount(a.labels, minlength=4).tolist() == [10, 10, 10, 10]
    assert a.images.shape == (40, 3, 64, 64) and a.masks.shape == (40, 64, 64) and a.masks.dtype == torch.bool
    assert a.images.min() >= 0 and a.images.max() <= 1


def test_masks_cover_exactly_the_animal():
    batch = zoo.make_zoo(12, seed=1)
    # Inside the mask the image takes at most the two coat colours; the object is a real blob.
    for i in range(12):
        inside = batch.images[i][:, batch.masks[i]].T  # (pixels, 3)
        assert len(torch.unique(inside, dim=0)) <= 2
        assert 150 < batch.masks[i].sum() < 900
    # Plain animals (frogs) are one colour; patterned ones two.
    frogs = (batch.labels == 3).nonzero()[:, 0]
    assert all(len(torch.unique(batch.images[i][:, batch.masks[i]].T, dim=0)) == 1 for i in frogs)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n >= 1"):
        zoo.make_zoo(0)
    with pytest.raises(ValueError, match="labels"):
        zoo.make_zoo(3, labels=torch.tensor([0, 1, 9]))


def test_the_trained_model_is_accurate_and_cached(zoo_model, zoo_cache, monkeypatch):
    fresh = zoo.make_zoo(400, seed=2024)
    with torch.no_grad():
        accuracy = (zoo_model(fresh.images).argmax(1) == fresh.labels).float().mean().item()
    assert accuracy > 0.95
    assert not zoo_model.training
    path = zoo.weights_path(0, zoo_cache / "fourlens" / "zoo")
    assert path.is_file()
    # A second call loads the cached weights instead of training again.
    monkeypatch.setenv("XDG_CACHE_HOME", str(zoo_cache))
    monkeypatch.setattr(zoo, "train_zoo_model", lambda **kw: pytest.fail("retrained despite the cache"))
    again = zoo.zoo_model()
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), zoo_model.state_dict().values(),
                                                 strict=True))


def test_a_corrupt_cache_file_is_rebuilt(tmp_path, monkeypatch):
    path = zoo.weights_path(5, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not safetensors")
    quick = zoo.ZooNet().eval()
    monkeypatch.setattr(zoo, "train_zoo_model", lambda **kw: (quick, 0.5))
    model = zoo.zoo_model(seed=5, directory=tmp_path)
    assert model is quick
    reloaded = zoo.zoo_model(seed=5, directory=tmp_path)  # now a valid file: loaded, not rebuilt
    assert all(torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(), quick.state_dict().values(),
                                                 strict=True))


def test_cache_dir_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert zoo.cache_dir() == tmp_path / "fourlens" / "zoo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert zoo.cache_dir().parts[-3:] == (".cache", "fourlens", "zoo")
