"""`fourlens vision explain` / `zoo` end to end: real images on disk, real models, PNG grids out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from typer.testing import CliRunner

from fourlens.cli import app

runner = CliRunner()

USER_MODULE = '''
import torch
from torch import nn

def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
'''


@pytest.fixture
def zoo_env(zoo_model, zoo_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(zoo_cache))  # the session's trained zoo model, no retraining
    return zoo_model


def test_zoo_images_then_explain_with_the_zoo_model(tmp_path, zoo_env):
    images = tmp_path / "zoo"
    result = runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "3", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert len(list(images.glob("*.png"))) == 3 and len(list((images / "masks").glob("*.png"))) == 3
    out = tmp_path / "out"
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out),
                                 "--method", "grad_cam,occlusion", "--method", "cam"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "explain.json").read_text())
    assert [m["method"] for m in report["methods"]] == ["grad_cam", "occlusion", "cam"]
    # the zoo model names the animals in the file names correctly
    assert [Path(p).stem.split("_", 1)[1] for p in report["images"]] == report["predicted"]
    grid = Image.open(out / "grid.png")
    assert grid.width > 4 * 160 and grid.height > 3 * 160
    assert len(list(out.glob("*_grad_cam.png"))) == 3
    # a rerun replaces its own files, but a file the user put there is never overwritten
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out), "--method", "cam"])
    assert result.exit_code == 0, result.output
    (out / "grid.png").write_bytes(b"my own picture")
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out), "--method", "cam"])
    assert result.exit_code == 2 and "not written by fourlens" in result.output, result.output
    assert (out / "grid.png").read_bytes() == b"my own picture"


def test_explain_a_user_model_from_safetensors_and_torchscript(tmp_path, monkeypatch):
    (tmp_path / "usermodels.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import usermodels

    model = usermodels.make()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "red.png")
    out = tmp_path / "out"
    result = runner.invoke(app, ["vision", "explain", "--model", "usermodels:make", "--weights", "w.safetensors",
                                 "--image", "red.png", "--out", str(out), "--size", "32", "--target", "2",
                                 "--method", "saliency", "--method", "integrated_gradients",
                                 "--mean", "0.5", "--std", "0.25"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "explain.json").read_text())
    assert report["methods"][0]["target"] == [2] and len(report["methods"][1]["delta"]) == 1
    scripted = tmp_path / "model.pt"
    torch.jit.script(model).save(str(scripted))
    result = runner.invoke(app, ["vision", "explain", "--model", str(scripted), "--image", "red.png",
                                 "--out", str(tmp_path / "out2"), "--size", "32", "--method", "saliency"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out2" / "red_saliency.png").is_file()
    # Hook-based methods cannot see inside TorchScript: refused, never silently plain gradients.
    for method in ("grad_cam", "guided_backprop"):
        result = runner.invoke(app, ["vision", "explain", "--model", str(scripted), "--image", "red.png",
                                     "--out", str(tmp_path / "out3"), "--size", "32", "--method", method])
        assert result.exit_code == 2 and "eager nn.Module" in result.output, result.output


def test_bad_input_gives_one_message_and_exit_2(tmp_path, monkeypatch):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    cases = [
        (["--image", str(tmp_path / "missing.png")], "does not exist"),
        (["--image", str(tmp_path / "a.png"), "--method", "lime"], "unknown method lime"),
        (["--image", str(tmp_path / "a.png"), "--target", "cat"], "--target"),
        (["--image", str(tmp_path / "a.png"), "--model", "nosuchmodule:make"], "cannot import"),
        (["--image", str(tmp_path / "a.png"), "--weights", str(tmp_path / "a.png")], "--weights needs --model"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["vision", "explain", "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    (tmp_path / "not_an_image.png").write_text("hello")
    result = runner.invoke(app, ["vision", "explain", "--out", str(tmp_path / "o"), "--image",
                                 str(tmp_path / "not_an_image.png"), "--model", "torch.nn:Identity"])
    assert result.exit_code == 2 and "not an image" in result.output


def test_pickled_weights_are_refused_by_default(tmp_path, monkeypatch):
    (tmp_path / "usermodels2.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    torch.save({"state": object()}, tmp_path / "w.pt")  # not plain tensors: needs unpickling
    result = runner.invoke(app, ["vision", "explain", "--model", "usermodels2:make", "--weights",
                                 str(tmp_path / "w.pt"), "--image", str(tmp_path / "a.png"), "--out",
                                 str(tmp_path / "o")])
    _one_line_error(result, "--trust-pickle")
    assert str(tmp_path / "w.pt") in result.output and "it refers to object" in result.output
    # fourlens's advice only: not torch's text that suggests turning the protection off, nor its warnings
    assert "weights_only" not in result.output and "Re-running" not in result.output
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not really a checkpoint")
    result = runner.invoke(app, ["vision", "explain", "--model", "usermodels2:make", "--weights",
                                 str(tmp_path / "broken.pt"), "--image", str(tmp_path / "a.png"), "--out",
                                 str(tmp_path / "o")])
    _one_line_error(result, f"{tmp_path / 'broken.pt'}: not a readable PyTorch checkpoint")


def _one_line_error(result, message: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


def test_option_values_are_checked_at_the_command_line(tmp_path, zoo_env):
    _one_line_error(runner.invoke(app, ["vision", "zoo", "--out", str(tmp_path / "z"), "--n", "0"]), "--n must be at "
                    "least 1; got 0")
    images = tmp_path / "zoo"
    assert runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "2"]).exit_code == 0
    for args, message in [(["--batch-size", "0"], "--batch-size must be at least 1"),
                          (["--size", "-5"], "--size must be at least 1; got -5"),
                          (["--mean", "0.5", "--std", "0"], "--std must not hold zeros")]:
        _one_line_error(runner.invoke(app, ["vision", "explain", "--image", str(images), "--out",
                                            str(tmp_path / "o"), *args]), message)
    assert not (tmp_path / "o").exists()
    # --out naming an existing file: one line, nothing written, the file untouched
    _one_line_error(runner.invoke(app, ["vision", "zoo", "--out", str(images / "000_zebra.png"), "--n", "2"]),
                    "is a file; give a folder")


def test_explain_checks_every_target_before_writing_anything(tmp_path, zoo_env):
    images, out = tmp_path / "zoo", tmp_path / "maps"
    assert runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "2"]).exit_code == 0
    out.mkdir()
    (out / "grid.png").write_bytes(b"the user's grid")
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out), "--method",
                                 "saliency,grad_cam"])
    _one_line_error(result, "not written by fourlens")
    assert sorted(p.name for p in out.iterdir()) == ["grid.png"]  # no overlay was written before the refusal
    assert (out / "grid.png").read_bytes() == b"the user's grid"


def test_unwritable_output_folder_is_refused_before_any_work(tmp_path, zoo_env, monkeypatch):
    import os
    import tempfile

    images = tmp_path / "zoo"
    assert runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "2"]).exit_code == 0
    locked = tmp_path / "locked"
    locked.mkdir()
    real = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):  # what an unwritable folder does (root ignores chmod, so simulate)
        if dir is not None and os.fspath(dir) == os.fspath(locked):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    calls = []
    import fourlens.vision.outputs.explain as explain_module

    monkeypatch.setattr(explain_module, "class_logits", lambda *a, **k: calls.append(a))
    for verb in (["zoo", "--n", "2"], ["explain", "--image", str(images)],
                 ["visualize-class", "--steps", "2"], ["deconv", "--image", str(images), "--layer", "features.2",
                                                       "--channel", "0"]):
        result = runner.invoke(app, ["vision", *verb, "--out", str(locked / "sub")])
        _one_line_error(result, "Permission denied")
    result = runner.invoke(app, ["vision", "zoo-clip", "--out", str(locked / "clip.gif")])
    _one_line_error(result, "Permission denied")
    assert calls == [] and list(locked.iterdir()) == []
    # a folder below a file cannot be created at all
    _one_line_error(runner.invoke(app, ["vision", "zoo", "--out", str(images / "000_zebra.png" / "x")]),
                    "is a file, so the folder cannot be created")


def test_readme_sequence_zoo_then_search_with_the_default_k(tmp_path, zoo_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["vision", "zoo", "--out", "zoo-images", "--n", "4"]).exit_code == 0
    result = runner.invoke(app, ["vision", "search", "--model", "zoo", "--images", "zoo-images", "--layers",
                                 "features.2,features.11", "--deconv", "--out", "search"])
    assert result.exit_code == 0, result.output
    assert "top 4 per channel" in result.output
    report = json.loads((tmp_path / "search" / "index.json").read_text())
    assert report["k"] == 4 and len(report["layers"]["features.11"]["image_index"][0]) == 4


def test_explain_layer_option(tmp_path, zoo_env):
    images, out = tmp_path / "zoo", tmp_path / "maps"
    assert runner.invoke(app, ["vision", "zoo", "--out", str(images), "--n", "2"]).exit_code == 0
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out), "--method",
                                 "saliency,grad_cam", "--layer", "features.8"])
    assert result.exit_code == 0 and "maps at layer features.8" in result.output, result.output
    report = json.loads((out / "explain.json").read_text())
    assert [m["layer"] for m in report["methods"]] == [None, "features.8"]
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out), "--method",
                                 "grad_cam", "--layer", "features.88"])
    _one_line_error(result, "no layer named 'features.88'")
    result = runner.invoke(app, ["vision", "explain", "--image", str(images), "--out", str(out), "--method",
                                 "saliency", "--layer", "features.8"])
    _one_line_error(result, "--layer is for the methods that read a layer")
