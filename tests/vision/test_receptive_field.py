"""Receptive fields: the conv/pool arithmetic against hand-computed values and against the gradient support."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision import ReceptiveField, receptive_field
from fourlens.vision.conformance import compare_snapshots, model_snapshot

from .conftest import TinyNet


def _stack() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 5, padding=2, stride=2), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                         nn.Conv2d(8, 4, 3, dilation=2), nn.AvgPool2d(3, stride=2, padding=1),
                         nn.Conv2d(4, 4, (3, 5), padding="same"))


# By hand, (size, jump, start) after each layer: r += d(k-1)j, start -= p j, j *= s.
HAND = {"0": (3, 1, -1), "1": (3, 1, -1), "2": (4, 2, -1), "3": (12, 4, -5), "5": (12, 4, -5),
        "6": (28, 4, -5), "7": (36, 8, -9)}


@pytest.mark.parametrize("layer", sorted(HAND))
def test_hand_computed_stack(layer: str) -> None:
    rf = receptive_field(_stack(), layer)
    r, j, st = HAND[layer]
    assert rf.method == "arithmetic" and rf.layer == layer
    assert rf.size == (r, r) and rf.jump == (j, j) and rf.start == (st, st)


def test_asymmetric_same_padding_and_the_chain() -> None:
    rf = receptive_field(_stack(), "8")
    # (3, 5) kernel, "same" pads 1 row and 2 cols on the left/top at jump 8.
    assert rf.size == (36 + 2 * 8, 36 + 4 * 8) and rf.jump == (8, 8) and rf.start == (-9 - 8, -9 - 16)
    assert [f.name for f in rf.layers] == [str(i) for i in range(9)]
    assert rf.layers[2].kind == "MaxPool2d" and rf.layers[2].size == (4, 4)
    assert rf.box(0, 0) == ((-17, -17 + 52), (-25, -25 + 68))
    assert rf.box(2, 3, clip_to=(64, 64)) == ((0, -17 + 16 + 52), (0, 64))  # cols -1 .. 66, clipped
    d = rf.to_dict()
    assert d["size"] == [52, 68] and len(d["layers"]) == 9 and "<table>" in rf._repr_html_()


@pytest.mark.parametrize("layer", ["0", "2", "3", "6", "7", "8"])
def test_arithmetic_equals_gradient_support(layer: str) -> None:
    model = _stack()
    arithmetic = receptive_field(model, layer)
    empirical = receptive_field(model, layer, method="gradient")
    assert empirical.method == "gradient" and empirical.layers == ()
    assert (empirical.size, empirical.jump, empirical.start) == (arithmetic.size, arithmetic.jump, arithmetic.start)


def test_tiny_net_module_and_functional_relu(tiny: TinyNet) -> None:
    # Module ReLUs: a chain, so arithmetic. F.relu in forward breaks the chain: the gradient probe answers.
    rf = receptive_field(tiny, tiny.conv2)
    assert rf.layer == "conv2" and rf.method == "arithmetic" and rf.size == (8, 8) and rf.jump == (2, 2)
    assert rf.start == (-3, -3)
    functional = TinyNet(functional=True)
    fb = receptive_field(functional, "conv2")
    assert fb.method == "gradient" and (fb.size, fb.jump, fb.start) == (rf.size, rf.jump, rf.start)
    with pytest.raises(BadInputError, match="not a plain chain"):
        receptive_field(functional, "conv2", method="arithmetic")


def test_1d_stack() -> None:
    model = nn.Sequential(nn.Conv1d(2, 4, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool1d(3, stride=3),
                          nn.Conv1d(4, 4, 3, dilation=3, padding=1))
    rf = receptive_field(model, "3")
    assert (rf.size, rf.jump, rf.start) == ((5 + 2 * 2 + 3 * 2 * 6,), (6,), (-2 - 6,))
    g = receptive_field(model, "3", method="gradient")
    assert (g.size, g.jump, g.start) == (rf.size, rf.jump, rf.start)


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(self.relu(self.conv1(x))))


class ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block1 = Block(4)
        self.pool = nn.MaxPool2d(2)
        self.block2 = Block(4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block2(self.pool(self.block1(self.stem(x))))
        return self.head(h.mean(dim=(2, 3)))


def test_residual_net_by_gradient() -> None:
    model = ResNet()
    # The longest path: stem r=3 j=2 start=-1; block1 two 3x3 at j=2: r=11 start=-5; pool: r=13 j=4;
    # block2 two 3x3 at j=4: r=29, start=-5-8=-13.
    assert receptive_field(model, "stem").method == "arithmetic"
    b1 = receptive_field(model, "block1")
    assert b1.method == "gradient" and (b1.size, b1.jump, b1.start) == ((11, 11), (2, 2), (-5, -5))
    b2 = receptive_field(model, model.block2)
    assert b2.method == "gradient" and (b2.size, b2.jump, b2.start) == ((29, 29), (4, 4), (-13, -13))
    # Inside a block the chain still holds up to the branch point.
    assert receptive_field(model, "block1.conv1").method == "arithmetic"
    with pytest.raises(BadInputError, match="not a spatial map"):
        receptive_field(model, "head")


def test_model_left_as_found() -> None:
    model = ResNet().train()
    model.stem[0].eval()  # a mixed mode must come back mixed
    model.block1.conv1.weight.grad = torch.ones_like(model.block1.conv1.weight)
    model.stem[0].bias.requires_grad_(False)
    calls = []
    model.pool.register_forward_hook(lambda *_: calls.append(1))
    before = model_snapshot(model)
    for layer in ("block1", "stem", "block2.conv2"):
        assert isinstance(receptive_field(model, layer), ReceptiveField)
    with pytest.raises(BadInputError):
        receptive_field(model, "nope")
    compare_snapshots(before, model_snapshot(model), "receptive_field")


def test_bad_inputs() -> None:
    with pytest.raises(BadInputError, match="no layer named"):
        receptive_field(_stack(), "99")
    with pytest.raises(BadInputError, match="input_shape"):
        receptive_field(nn.Sequential(nn.Linear(3, 3)), "0")
    with pytest.raises(BadInputError, match="input_shape"):
        receptive_field(_stack(), "8", input_shape=(1, 3, 2, 2))
    with pytest.raises(ValueError, match="method"):
        receptive_field(_stack(), "0", method="guess")  # type: ignore[arg-type]


def test_a_field_is_probed_once_per_structure() -> None:
    """Fields depend on the layers' geometry, not on the weights: a second call (new weights too) reuses
    the first probe; a changed layer (another stride) is probed again."""
    model = _stack()
    first = receptive_field(model, "3")
    with torch.no_grad():
        model[3].weight.mul_(-2.0)
    assert receptive_field(model, "3") is first
    model[3] = nn.Conv2d(8, 8, 5, padding=2, stride=1)
    changed = receptive_field(model, "3")
    assert changed is not first and changed.jump == (2, 2) and changed.size == (12, 12)
    with pytest.raises(BadInputError):   # a refusal is remembered too, and raised again
        receptive_field(model, "7", method="arithmetic", input_shape=(1, 3, 8, 8))
    with pytest.raises(BadInputError):
        receptive_field(model, "7", method="arithmetic", input_shape=(1, 3, 8, 8))
