"""`fourlens vision search | live | zoo-clip` end to end: real files on disk, the zoo model, PNG/GIF/MP4 out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageSequence
from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.vision import ImageFolder, top_activations

runner = CliRunner()


@pytest.fixture
def zoo_env(zoo_model, zoo_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(zoo_cache))  # the session's trained zoo model, no retraining
    return zoo_model


def test_search_on_zoo_images(tmp_path, zoo_env):
    images, out = tmp_path / "zoo", tmp_path / "out"
    assert runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "30", "--seed", "2"]).exit_code == 0
    result = runner.invoke(app, ["vision", "search", "--model", "zoo", "--images", str(images), "--layers",
                                 "features.2,features.11,classifier", "--channels", "0,3", "--k", "4", "--deconv",
                                 "--batch-size", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "searched 30 images" in result.output
    for name in ("features.2.png", "features.2_deconv.png", "features.11.png", "features.11_deconv.png"):
        with Image.open(out / name) as picture:
            assert picture.width > 100
    report = json.loads((out / "index.json").read_text())
    index = top_activations(zoo_env, ImageFolder(images, size=64), ["features.11"], k=4, batch_size=8)
    assert report["layers"]["features.11"]["image_index"] == index["features.11"].image_index.tolist()
    assert report["layers"]["features.11"]["field"]["size"] == [17, 17]
    assert report["images"]["files"][0] == "000_" + report["images"]["files"][0][4:]
    assert report["layers"]["classifier"]["field"] is None  # features (n, C): hits but no grid


def test_search_errors(tmp_path, zoo_env):
    images = tmp_path / "zoo"
    runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "4"])
    for args, message in [(["--layers", "nope"], "no layer named 'nope'"),
                          (["--layers", "features.2", "--k", "2", "--channels", "99"], "channels 0..7"),
                          (["--layers", "features.2", "--k", "9"], "only 4 images")]:
        result = runner.invoke(app, ["vision", "search", "--images", str(images), "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 2 and message in result.output, result.output


def test_live_on_generated_clips(tmp_path, zoo_env):
    clip = tmp_path / "clip.gif"
    result = runner.invoke(app, ["vision", "zoo-clip", "--out", str(clip), "--animal", "leopard", "--frames", "12"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "live.gif"
    result = runner.invoke(app, ["vision", "live", "--video", str(clip), "--out", str(out), "--batch-size", "5"])
    assert result.exit_code == 0, result.output
    assert "12 frames:" in result.output and "frames/s" in result.output and "most frequent class 1" in result.output
    with Image.open(out) as gif:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) == 12 and frames[0].shape == (256, 256, 3)
    rerun = runner.invoke(app, ["vision", "live", "--video", str(clip), "--out", str(out), "--batch-size", "5"])
    assert rerun.exit_code == 0, rerun.output   # our own GIF may be replaced
    mine = tmp_path / "mine.gif"
    mine.write_bytes(b"GIF89a a user's file")
    refused = runner.invoke(app, ["vision", "live", "--video", str(clip), "--out", str(mine)])
    assert refused.exit_code == 2 and "not written by fourlens" in refused.output
    assert mine.read_bytes() == b"GIF89a a user's file"
    # MP4 in and out through imageio-ffmpeg, Grad-CAM, a fixed target.
    mp4 = tmp_path / "clip.mp4"
    assert runner.invoke(app, ["vision", "zoo-clip", "--out", str(mp4), "--frames", "9"]).exit_code == 0
    out_mp4 = tmp_path / "live.mp4"
    result = runner.invoke(app, ["vision", "live", "--video", str(mp4), "--out", str(out_mp4), "--method",
                                 "grad_cam", "--target", "0", "--display", "128"])
    assert result.exit_code == 0, result.output
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(out_mp4))
    meta = next(reader)
    assert tuple(meta["size"]) == (128, 128) and sum(1 for _ in reader) == 9
    # A folder of frames.
    folder = tmp_path / "frames"
    assert runner.invoke(app, ["vision", "zoo-clip", "--out", str(folder), "--frames", "5"]).exit_code == 0
    result = runner.invoke(app, ["vision", "live", "--frames", str(folder), "--out", str(tmp_path / "f.gif")])
    assert result.exit_code == 0 and "5 frames" in result.output, result.output


def test_live_errors(tmp_path, zoo_env):
    out = str(tmp_path / "x.gif")
    for args, message in [([], "exactly one of --video"),
                          (["--video", str(tmp_path / "missing.mp4")], "does not exist"),
                          (["--frames", str(tmp_path), "--method", "saliency"], "cam or grad_cam"),
                          (["--frames", str(tmp_path), "--target", "zebra"], "class index or top1")]:
        result = runner.invoke(app, ["vision", "live", "--out", out, *args])
        assert result.exit_code == 2 and message in result.output, result.output
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    result = runner.invoke(app, ["vision", "live", "--video", str(tmp_path / "bad.mp4"), "--out", out])
    assert result.exit_code == 2 and "not a video" in result.output, result.output
    result = runner.invoke(app, ["vision", "zoo-clip", "--out", out, "--animal", "cat"])
    assert result.exit_code == 2 and "--animal must be one of" in result.output


def test_live_options_are_checked_before_the_model_opens_and_by_the_library(tmp_path):
    import torch

    from fourlens.errors import BadInputError
    from fourlens.vision.outputs.live import live_to_file

    out = tmp_path / "x.gif"
    for args, message in [(["--fps", "0"], "--fps must be > 0"), (["--method", "lrp"], "cam or grad_cam")]:
        # a model that cannot be imported: the option error comes first, so no model is opened
        result = runner.invoke(app, ["vision", "live", "--frames", str(tmp_path), "--model", "no_such_module:net",
                                     "--out", str(out), *args])
        assert result.exit_code == 2 and message in result.output and "cannot import" not in result.output
    with pytest.raises(BadInputError, match="--fps must be > 0"):
        live_to_file(torch.nn.Identity(), None, tmp_path, out, side=8, mean=torch.zeros(3), std=torch.ones(3), fps=0)
    with pytest.raises(BadInputError, match="exactly one of"):
        live_to_file(torch.nn.Identity(), None, None, out, side=8, mean=torch.zeros(3), std=torch.ones(3))
    assert not out.exists()
