"""Incremental occlusion (crop the first layers around each square) must give the plain sweep's results."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fourlens.vision import occlusion
from fourlens.vision.attribution import occlusion_incremental
from fourlens.vision.attribution.occlusion_incremental import Axis


class Block(nn.Module):
    """A residual block (the cut must not fall inside it: the skip bypasses its convolutions)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class SmallResNet(nn.Module):
    """Stem (stride 2) + max-pool + residual blocks + strided conv + GAP head, in float64."""

    def __init__(self, input_skip: bool = False) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.MaxPool2d(3, stride=2, padding=1))
            self.blocks = nn.Sequential(Block(8), Block(8))
            self.down = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), Block(16), Block(16))
            self.head = nn.Linear(16, 4)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):  # non-trivial running statistics
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        self.input_skip = input_skip
        self.double().eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.down(self.blocks(self.stem(x))).mean((2, 3))
        out = self.head(h)
        if self.input_skip:  # a path from the input to the logits that no layer cut can see
            out = out + x.mean((1, 2, 3)).unsqueeze(1) * 3
        return out


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.mark.parametrize("window, stride", [(8, 4), (12, 8), (16, 8)])
def test_incremental_equals_the_plain_sweep_on_a_residual_net(images, window, stride) -> None:
    model = SmallResNet()
    fast = occlusion(model, images, [1, 3], window=window, stride=stride, batch_size=7, incremental=True)
    plain = occlusion(model, images, [1, 3], window=window, stride=stride, batch_size=7, incremental=False)
    assert fast.params["incremental_layer"] is not None and plain.params["incremental_layer"] is None
    torch.testing.assert_close(fast.values, plain.values, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(fast.probability_map, plain.probability_map, rtol=1e-9, atol=1e-12)


def test_the_zoo_model_gets_the_same_maps_incrementally(zoo_model, zoo_batch) -> None:
    x, y = zoo_batch.images[:3], zoo_batch.labels[:3]
    fast = occlusion(zoo_model, x, y, window=12, stride=4, incremental=True)
    plain = occlusion(zoo_model, x, y, window=12, stride=4, incremental=False)
    assert fast.params["incremental_layer"] is not None
    torch.testing.assert_close(fast.values, plain.values, rtol=1e-4, atol=1e-5)


def test_a_path_that_bypasses_every_cut_is_caught_and_swept_plainly(images) -> None:
    model = SmallResNet(input_skip=True)
    result = occlusion(model, images, 1, window=16, stride=8, incremental=True)
    assert result.params["incremental_layer"] is None  # the three-square check saw different logits
    plain = occlusion(model, images, 1, window=16, stride=8, incremental=False)
    torch.testing.assert_close(result.values, plain.values)


def test_a_wrong_crop_geometry_is_caught_by_the_check(images, monkeypatch: pytest.MonkeyPatch) -> None:
    right = Axis.crop_start

    def off_by_one_jump(self: Axis, first_unit: int) -> int:  # crops that miss part of a changed unit's field
        return min(right(self, first_unit) + self.jump, self.length - self.crop)

    monkeypatch.setattr(Axis, "crop_start", off_by_one_jump)
    result = occlusion(SmallResNet(), images, 1, window=16, stride=8, incremental=True)
    assert result.params["incremental_layer"] is None


def test_no_plan_when_the_crop_would_be_the_whole_image(images) -> None:
    model = SmallResNet()
    plan = occlusion_incremental.make_plan(model, images, window=80, tops=torch.tensor([0, 16]),
                                           lefts=torch.tensor([0, 16]), batch_size=4)
    assert plan is None


def test_the_incremental_sweep_passes_the_conformance_check(images) -> None:
    # model left exactly as found (the paste hook is removed), batch_size=1 equal, one image = in a batch
    from fourlens.vision.conformance import check_attribution_method

    result = check_attribution_method(occlusion, SmallResNet(), images, target=2, window=16, stride=8,
                                      incremental=True)
    assert result.params["incremental_layer"] is not None


@pytest.mark.parametrize("slow", ["incremental", "plain"])
def test_the_measured_faster_path_runs_the_sweep(images, monkeypatch: pytest.MonkeyPatch, slow: str) -> None:
    """By default the sweep's first batches race the two paths; the one measured faster runs the rest."""
    import importlib

    from fourlens.vision.attribution import race

    module = importlib.import_module("fourlens.vision.attribution.occlusion")
    make_slow = {"incremental": "occluded_logits", "plain": "forward"}[slow]
    real = getattr(module, make_slow)
    clock = {"now": 0.0}  # a machine whose only cost is the slow path's: the race must see it whatever the load

    def delayed(*args, **kwargs):
        clock["now"] += 1.0
        return real(*args, **kwargs)

    monkeypatch.setattr(module, make_slow, delayed)
    monkeypatch.setattr(race.time, "perf_counter", lambda: clock["now"])
    result = occlusion(SmallResNet(), images, [1, 3], window=8, stride=4, batch_size=16)
    winner = "plain" if slow == "incremental" else "incremental"
    assert result.params["race"]["path"] == winner
    pilot = result.params["race"]["pilot_seconds_per_square"]
    assert set(pilot) == {"incremental", "plain"}  # with a plan, the plain path keeps channels-last batches
    assert all(len(v) == 2 for v in pilot.values())
    assert (result.params["incremental_layer"] is None) == (winner == "plain")
    monkeypatch.setattr(module, make_slow, real)
    plain = occlusion(SmallResNet(), images, [1, 3], window=8, stride=4, batch_size=16, incremental=False)
    torch.testing.assert_close(result.values, plain.values, rtol=1e-9, atol=1e-12)


def test_a_short_sweep_does_not_race(images) -> None:
    result = occlusion(SmallResNet(), images[:1], 1, window=16, stride=16, batch_size=64)
    race = result.params["race"]
    assert race is None or not any(race["pilot_seconds_per_square"].values())


def test_the_faster_layout_runs_the_sweep(images, monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels-last batches are slower on small maps: the race measures each path in both layouts."""
    import importlib

    from fourlens.vision.attribution import layout, race

    module = importlib.import_module("fourlens.vision.attribution.occlusion")
    clock = {"now": 0.0}  # only channels-last forwards cost time on this machine
    real = module.forward

    def forward(model, inputs):
        clock["now"] += 1.0 if layout.channels_last_enabled() else 0.0
        return real(model, inputs)

    monkeypatch.setattr(module, "forward", forward)
    monkeypatch.setattr(race.time, "perf_counter", lambda: clock["now"])
    result = occlusion(SmallResNet(), images, [1, 3], window=8, stride=4, batch_size=16, incremental=False)
    assert result.params["race"]["path"] == "plain, contiguous"
    monkeypatch.setattr(module, "forward", real)
    with layout.channels_last_batches(False):  # the caller's layout only: nothing to race
        plain = occlusion(SmallResNet(), images, [1, 3], window=8, stride=4, batch_size=16, incremental=False)
    assert plain.params["race"] is None
    torch.testing.assert_close(result.values, plain.values, rtol=1e-6, atol=1e-8)

