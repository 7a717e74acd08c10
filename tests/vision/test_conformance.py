"""Every built-in method passes the shared conformance check, on module and functional ReLU models."""

from __future__ import annotations

import pytest
import torch

from fourlens.vision import METHODS
from fourlens.vision.conformance import ConformanceError, check_attribution_method, model_snapshot
from tests.vision.conftest import TinyNet

SETTINGS = {"smoothgrad": {"n": 4}, "integrated_gradients": {"steps": 6}, "occlusion": {"window": 4, "stride": 4},
            "gradient_shap": {"n_samples": 4, "stdev": 0.1}}
RANDOM = ("smoothgrad", "gradient_shap")  # draws per image index: an image alone gets other draws


def prepared(**kwargs) -> TinyNet:
    """A model in a state a method could easily disturb: existing grads, a hook, one frozen layer."""
    model = TinyNet(**kwargs).eval()
    model(torch.rand(1, 3, 16, 16, dtype=torch.float64)).sum().backward()
    model.conv1.weight.requires_grad_(False)
    model.fc.register_forward_hook(lambda *args: None)
    model.pool.train()  # a mixed-mode model: every module's flag must come back as it was
    return model


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("kind", ["modules", "functional", "inplace"])
def test_every_method_conforms(name, kind, tiny_x):
    model = prepared(functional=kind == "functional", inplace=kind == "inplace")
    if name == "cam" or name.startswith("grad_cam"):
        settings = {"layer": "relu2"} if kind != "functional" else {"layer": "conv2"}
        if name == "cam" and kind == "functional":
            settings = {}  # the GAP input is F.relu(conv2(...)): no module outputs it, so cam must refuse
            with pytest.raises(ValueError, match="global-average-pooling head"):
                METHODS[name](model, tiny_x)
            return
    else:
        settings = SETTINGS.get(name, {})
    check_attribution_method(METHODS[name], model, tiny_x, batch_invariant=name not in RANDOM,
                             target=[0, 1, 2], **settings)


def test_the_check_catches_a_method_that_mutates(tiny, tiny_x):
    def sloppy(model, x, **kwargs):
        model.train()
        return METHODS["saliency"](model, x, **kwargs)

    with pytest.raises(ConformanceError, match="training"):
        check_attribution_method(sloppy, tiny, tiny_x, target=0)


def test_train_mode_batchnorm_statistics_are_restored(tiny_x):
    from fourlens.demo.zoo import ZooNet

    model = ZooNet(width=8).double().train()
    before = model_snapshot(model)
    METHODS["integrated_gradients"](model, tiny_x, 0, steps=4)
    METHODS["occlusion"](model, tiny_x, 0, window=8, stride=8)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before["state"].items())
    assert model.training
