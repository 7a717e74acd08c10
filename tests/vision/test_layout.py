"""Image batches reach the model channels-last on CPU (faster convolutions); results must not change."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fourlens.vision import grad_cam, integrated_gradients, occlusion, saliency
from fourlens.vision.attribution.layout import channels_last_batches, takes_channels_last


class ViewFlattenNet(nn.Module):
    """VGG-style head: `.view` on a 4x4 feature map, which a channels-last tensor cannot do."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(4)
            self.fc = nn.Linear(4 * 16, 3)
        self.calls: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())
        h = self.pool(torch.relu(self.conv(x)))
        return self.fc(h.view(h.shape[0], -1))


class StorageOrderNet(nn.Module):
    """Reads its input's storage as if it were contiguous, like a custom kernel that ignores strides:
    channels-last input gives other logits, silently."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        raw = torch.as_strided(x, (n, c, h, w), (c * h * w, h * w, w, 1))
        return self.fc(torch.relu(self.conv(raw)).mean((2, 3)))


def contiguous_only(method, *args, **kwargs):
    with channels_last_batches(False):
        return method(*args, **kwargs)


@pytest.mark.parametrize("method, kwargs", [(saliency, {}), (integrated_gradients, {"steps": 8}),
                                            (occlusion, {"window": 16, "stride": 16}),
                                            (grad_cam, {"layer": "features.9"})])
def test_channels_last_batches_give_the_contiguous_results_on_the_zoo_model(zoo_model, zoo_batch, method,
                                                                              kwargs) -> None:
    x, y = zoo_batch.images[:4], zoo_batch.labels[:4]
    fast = method(zoo_model, x, y, **kwargs)
    plain = contiguous_only(method, zoo_model, x, y, **kwargs)
    assert fast.values.is_contiguous()
    torch.testing.assert_close(fast.values, plain.values, rtol=1e-4, atol=1e-5)


def test_a_model_that_cannot_take_channels_last_input_falls_back_once_and_is_remembered() -> None:
    model = ViewFlattenNet().eval()
    x = torch.rand(5, 3, 16, 16)
    with pytest.raises(RuntimeError):  # what the fallback is for: .view on a channels-last feature map
        model(x.contiguous(memory_format=torch.channels_last))
    model.calls.clear()
    result = saliency(model, x, 1, batch_size=2)
    assert model.calls[0] is True and not any(model.calls[1:])  # one failed try, then contiguous only
    torch.testing.assert_close(result.values, contiguous_only(saliency, model, x, 1, batch_size=2).values)
    assert integrated_gradients(model, x, 1, steps=4).delta.abs().max() < 1e-2



def test_a_model_that_computes_something_else_channels_last_is_caught_by_the_first_check() -> None:
    model = StorageOrderNet().eval()
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(model(x.contiguous(memory_format=torch.channels_last)), model(x))
    result = saliency(model, x, 0)
    assert takes_channels_last(model) is False
    torch.testing.assert_close(result.values, contiguous_only(saliency, model, x, 0).values)


def test_the_setting_is_scoped_to_its_block() -> None:
    model = ViewFlattenNet().eval()
    x = torch.rand(2, 3, 16, 16)
    with channels_last_batches(False):
        saliency(model, x, 0)
        assert model.calls and not any(model.calls)  # no channels-last batch, not even the first check
        assert takes_channels_last(model) is None
        with pytest.raises(RuntimeError), channels_last_batches(True):
            raise RuntimeError("an error inside the block")
        model.calls.clear()
        saliency(model, x, 0)
        assert not any(model.calls)  # the inner block's setting ended with it, also on the error
    with pytest.raises(TypeError), channels_last_batches("no"):
        pass
