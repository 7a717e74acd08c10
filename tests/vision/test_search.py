"""Dataset search: the streaming top-k's two position paths, NaN reporting, folder input, grids."""

from __future__ import annotations

import importlib

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
