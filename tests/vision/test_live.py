"""Live CAM: equals the `cam` / `grad_cam` attributions frame by frame, follows a moving animal, costs no backward."""

from __future__ import annotations

import pytest
import torch

from fourlens.demo.zoo_clip import moving_zoo_clip
from fourlens.errors import BadInputError
from fourlens.vision import cam, grad_cam, live_cam, live_cam_stream, overlay_frames, present
from fourlens.vision.conformance import compare_snapshots, model_snapshot

from .conftest import TinyNet


@pytest.mark.parametrize("label", [0, 1, 2, 3])
def test_cam_peak_follows_the_moving_animal(zoo_model, label):
    clip = moving_zoo_clip(16, label=label, seed=label)
    result = live_cam(zoo_model, clip.frames, batch_size=5)
    assert (result.classes == label).float().mean() >= 0.9  # the model sees the animal in (almost) every frame
    heat = torch.nn.functional.interpolate(result.maps[:, None], size=clip.frames.shape[-2:], mode="bilinear",
                                           align_corners=False)[:, 0]  # (T, H, W)
    peak = heat.flatten(1).argmax(dim=1)  # (T,)
    inside = clip.masks.flatten(1).gather(1, peak[:, None])[:, 0]
    # The peak lies on the animal (its ground-truth mask) in most frames, and in every frame within one cell
    # of the 16 x 16 CAM grid (4 px) of it: the frog, a plain triangle, peaks just past its edge at times.
    near = torch.nn.functional.max_pool2d(clip.masks[:, None].float(), 9, stride=1, padding=4)[:, 0] > 0
    assert inside.float().mean() >= 0.75, inside
    assert near.flatten(1).gather(1, peak[:, None]).all()
    peak_x = (peak % heat.shape[-1]).float()
    # ... and moves with it: the peak's column tracks the animal's centre from left to right.
    assert torch.corrcoef(torch.stack([peak_x, clip.centers[:, 1]]))[0, 1] > 0.9
    assert result.frames == 16 and result.fps > 0 and result.layer == "features"


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_live_cam_equals_the_cam_attribution_per_frame(zoo_model, batch_size):
    clip = moving_zoo_clip(10, label=1, seed=4)
    reference = cam(zoo_model, clip.frames, "top1")
    result = live_cam(zoo_model, clip.frames, batch_size=batch_size)
    assert torch.equal(result.classes, reference.target.view(-1))
    assert torch.allclose(result.maps, reference.values, rtol=1e-5, atol=1e-5)
    fixed = live_cam(zoo_model, clip.frames, target=2, batch_size=batch_size)
    assert torch.allclose(fixed.maps, cam(zoo_model, clip.frames, 2).values, rtol=1e-5, atol=1e-5)
    probs = torch.softmax(zoo_model(clip.frames), 1).gather(1, result.classes[:, None])[:, 0]
    assert torch.allclose(result.probabilities, probs, atol=1e-6)


def test_live_grad_cam_equals_grad_cam(zoo_model):
    clip = moving_zoo_clip(6, label=3, seed=2)
    result = live_cam(zoo_model, clip.frames, method="grad_cam", layer="features.8", batch_size=4)
    reference = grad_cam(zoo_model, clip.frames, "top1", layer="features.8")
    assert torch.allclose(result.maps, reference.values, rtol=1e-5, atol=1e-6)
    assert result.layer == "features.8" and result.method == "grad_cam"


def test_cam_path_runs_no_backward_and_leaves_the_model_as_found():
    model = TinyNet(inplace=True).train()
    x = torch.rand(7, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = model_snapshot(model)
    backward_calls = []
    handle = model.conv1.register_full_backward_hook(lambda *_: backward_calls.append(1))
    try:
        stream = live_cam_stream(model, [x[:4], x[4:]])
        parts = list(stream)
    finally:
        handle.remove()
    assert backward_calls == [] and [p.frames for p in parts] == [4, 3]
    assert all(not p.maps.requires_grad for p in parts)
    compare_snapshots(before, model_snapshot(model), "live_cam")
    assert model.training
    with pytest.raises(BadInputError, match="out of range"):
        live_cam(model, x, target=9)
    with pytest.raises(BadInputError, match="method"):
        live_cam(model, x, method="occlusion")
    with pytest.raises(BadInputError, match="no frames"):
        live_cam(model, [])
    compare_snapshots(before, model_snapshot(model), "live_cam (failing)")


def test_overlay_frames_equal_the_present_overlay(zoo_model):
    clip = moving_zoo_clip(3, label=0, seed=1)
    result = live_cam(zoo_model, clip.frames)
    frames = overlay_frames(clip.frames, result.maps, size=64)
    assert frames.shape == (3, 64, 64, 3) and frames.dtype == torch.uint8
    for i in range(3):
        heat = present.heatmap(result.maps[i:i + 1], "cam", size=(64, 64))[0]
        want = torch.from_numpy(present.np.array(present.overlay(clip.frames[i], heat))).int()
        assert (frames[i].int() - want).abs().max() <= 2
