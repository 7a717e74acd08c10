"""Deconvnet reconstructions: against the input gradient (linear nets), nn.MaxUnpool2d, receptive fields, switches."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fourlens.errors import BadInputError
from fourlens.vision import deconvnet_reconstruction, receptive_field
from fourlens.vision.attribution.hooks import relu_rule
from fourlens.vision.conformance import compare_snapshots, model_snapshot


def _linear_stack() -> nn.Sequential:
    """Convs and BatchNorm only: a linear map of the input (plus constants)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.Conv2d(6, 5, 5, stride=2, padding=2),
                          nn.Conv2d(5, 4, 3, stride=2, dilation=2), nn.Dropout(0.5), nn.Conv2d(4, 4, 1, padding="same"))
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_(0.5, 1.5)
    return model.double()


def _pool_stack() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
                         nn.Conv2d(8, 4, 3)).double()


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def _input_grad(model: nn.Module, x: torch.Tensor, layer: int, channel: int, pos: tuple[int, int],
                rule: bool = False) -> torch.Tensor:
    """Backpropagate the activation's own value from the unit to x (under the deconvnet ReLU rule when `rule`)."""
    x = x.clone().requires_grad_(True)
    model.eval()
    with torch.enable_grad(), (relu_rule("deconvnet") if rule else torch.enable_grad()):
        act = model[:layer + 1](x)[0, channel, pos[0], pos[1]]
        (grad,) = torch.autograd.grad(act, x, grad_outputs=act.detach())  # seeded with the value: its sign matters
    return grad


@pytest.mark.parametrize(("layer", "pos"), [(0, (5, 7)), (2, (3, 1)), (3, (2, 2)), (5, (1, 3))])
def test_linear_stack_equals_input_gradient(layer: int, pos: tuple[int, int]) -> None:
    # Without ReLU and pooling the deconvnet is the transpose of a linear map: W^T (value e_unit) = value * grad.
    model = _linear_stack()
    x = _x(1, 3, 23, 21)
    rec = deconvnet_reconstruction(model, x, str(layer), channel=2, position=pos)
    assert rec.shape == x.shape and rec.dtype == x.dtype
    torch.testing.assert_close(rec, _input_grad(model, x, layer, 2, pos), atol=1e-5, rtol=0)
    assert rec.abs().sum() > 0


def test_matches_maxunpool_and_conv_transpose_by_hand() -> None:
    # One conv, ReLU, non-overlapping pool: nn.MaxUnpool2d with the switches, ReLU, conv_transpose2d.
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, return_indices=False))
    x = torch.randn(2, 3, 8, 8)
    rec = deconvnet_reconstruction(model, x, "2", channel=1)
    feats = F.relu(model[0](x))
    pooled, switches = F.max_pool2d(feats, 2, return_indices=True)
    keep = torch.zeros_like(pooled)
    for n in range(2):  # the strongest activation of channel 1 in each image
        flat = pooled[n, 1].flatten().argmax()
        keep[n, 1].view(-1)[flat] = pooled[n, 1].flatten()[flat]
    by_hand = F.conv_transpose2d(F.relu(nn.MaxUnpool2d(2)(keep, switches, output_size=feats.shape)),
                                 model[0].weight, padding=1)
    torch.testing.assert_close(rec, by_hand, atol=1e-6, rtol=0)


def test_pools_follow_the_deconvnet_rule_and_stay_in_the_field() -> None:
    model = _pool_stack()
    x = _x(1, 3, 32, 32)
    rec = deconvnet_reconstruction(model, x, "6", channel=3, position=(2, 3))
    # Same rules as autograd through max pools and convs with the ReLU backward rectified.
    torch.testing.assert_close(rec, _input_grad(model, x, 6, 3, (2, 3), rule=True), atol=1e-9, rtol=0)
    nonzero = rec[0].abs().sum(0) > 0
    assert nonzero.any()
    # Only inside the receptive field of unit (2, 3) of layer 6 ...
    (r0, r1), (c0, c1) = receptive_field(model, "6").box(2, 3, clip_to=(32, 32))
    inside = torch.zeros_like(nonzero)
    inside[r0:r1, c0:c1] = True
    assert not (nonzero & ~inside).any()


def test_only_at_the_switches() -> None:
    # A 1x1 first conv does not spread the signal: the reconstruction lives on the pool's switches only.
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 3, 3, padding=1)).double()
    x = _x(1, 3, 16, 16)
    rec = deconvnet_reconstruction(model, x, "3", channel=1, position=(4, 5))
    nonzero = rec[0].abs().sum(0) > 0
    _, switches = F.max_pool2d(F.relu(model[0](x)), 2, return_indices=True)
    on_switch = torch.zeros(16 * 16, dtype=torch.bool)
    on_switch[switches.flatten().unique()] = True
    on_switch = on_switch.view(16, 16)
    assert nonzero.any() and not (nonzero & ~on_switch).any()
    (r0, r1), (c0, c1) = receptive_field(model, "3").box(4, 5, clip_to=(16, 16))
    assert (r0, r1, c0, c1) == (6, 12, 8, 14) and not nonzero[:r0].any() and not nonzero[r1:].any()
    assert on_switch[r0:r1, c0:c1].float().mean() <= 0.5  # two channels' switches: at most half the pixels


def test_strongest_unit_by_default_and_1d() -> None:
    model = _pool_stack()
    x = _x(2, 3, 24, 24)
    out = model[:5].eval()(x)
    for n in range(2):
        flat = int(out[n, 1].flatten().argmax())
        pos = divmod(flat, out.shape[-1])
        torch.testing.assert_close(deconvnet_reconstruction(model, x, "4", 1)[n],
                                   deconvnet_reconstruction(model, x[n:n + 1], "4", 1, position=pos)[0])
    conv1d = nn.Sequential(nn.Conv1d(2, 3, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(3, 2, 3))
    x1 = torch.randn(3, 2, 40)
    assert deconvnet_reconstruction(conv1d, x1, "3", 0).shape == x1.shape


def test_model_left_as_found() -> None:
    model = _pool_stack().train()
    handle = model[3].register_forward_hook(lambda *_: None)
    before = model_snapshot(model)
    deconvnet_reconstruction(model, _x(1, 3, 16, 16), model[4], 0)
    compare_snapshots(before, model_snapshot(model), "deconvnet_reconstruction")
    with pytest.raises(BadInputError):
        deconvnet_reconstruction(model, _x(1, 3, 16, 16), "4", 99)
    compare_snapshots(before, model_snapshot(model), "deconvnet_reconstruction (failing)")
    handle.remove()


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x) + x)


def test_errors() -> None:
    x = torch.randn(1, 3, 16, 16)
    with pytest.raises(BadInputError, match="not a plain chain"):
        deconvnet_reconstruction(Residual(), x, "conv2", 0)
    with pytest.raises(BadInputError, match="no deconvnet rule"):
        deconvnet_reconstruction(nn.Sequential(nn.Conv2d(3, 3, 3), nn.Sigmoid(), nn.Conv2d(3, 3, 3)), x, "2", 0)
    with pytest.raises(BadInputError, match="not a feature map"):
        deconvnet_reconstruction(nn.Sequential(nn.Conv2d(3, 3, 3), nn.Flatten()), x, "1", 0)
    model = _pool_stack().float()
    with pytest.raises(BadInputError, match="channel 8 is out of range"):
        deconvnet_reconstruction(model, x, "3", 8)
    with pytest.raises(BadInputError, match="outside the layer"):
        deconvnet_reconstruction(model, x, "3", 0, position=(8, 0))
    with pytest.raises(BadInputError, match="no layer named"):
        deconvnet_reconstruction(model, x, "nope", 0)
    with pytest.raises(BadInputError, match="pass a batch"):
        deconvnet_reconstruction(model, x[0], "3", 0)
    with pytest.raises(BadInputError, match="float tensor"):
        deconvnet_reconstruction(model, x.long(), "3", 0)
