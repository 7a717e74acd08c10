"""`fourlens vision visualize-class | visualize-neuron | dream | deconv` end to end: PNGs opened and measured."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from fourlens.cli import app

runner = CliRunner()

USER_MODULE = '''
from torch import nn

def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 6, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))
'''


@pytest.fixture
def zoo_env(zoo_model, zoo_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(zoo_cache))  # the session's trained zoo model, no retraining
    return zoo_model


@pytest.fixture
def zoo_images(tmp_path, zoo_env):
    folder = tmp_path / "zoo"
    result = runner.invoke(app, ["vision", "zoo", "--out", str(folder), "--n", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    return folder


def test_visualize_class_all_classes_both_parameterizations(tmp_path, zoo_env):
    out = tmp_path / "classes"
    result = runner.invoke(app, ["vision", "visualize-class", "--all-classes", "--parameterization", "both",
                                 "--steps", "100", "--out", str(out)])
    assert result.exit_code == 0, result.output
    singles = sorted(out.glob("class_*.png"))
    assert len(singles) == 8 and all(Image.open(p).size == (64, 64) for p in singles)
    assert (out / "class_3_frog_fourier.png").is_file()
    grid = Image.open(out / "grid.png")
    assert grid.size == (110 + 4 * 164 + 4, 18 + 2 * 164 + 4)  # 4 classes x (pixel, fourier), titled
    report = json.loads((out / "visualize.json").read_text())
    assert [r["target"] for r in report["results"]] == [0, 1, 2, 3, 0, 1, 2, 3]
    # 100 steps (the defaults are 200): every class model is far above chance (0.25) already
    assert all(r["probability"] > 0.9 for r in report["results"]), [r["probability"] for r in report["results"]]
    # a second run may overwrite its own files
    again = runner.invoke(app, ["vision", "visualize-class", "--target", "2", "--steps", "5", "--out", str(out)])
    assert again.exit_code == 0, again.output


def test_visualize_class_errors_and_output_guard(tmp_path, zoo_env):
    result = runner.invoke(app, ["vision", "visualize-class", "--target", "7", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "0..3" in result.output, result.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "grid.png").write_bytes(b"my own picture")
    result = runner.invoke(app, ["vision", "visualize-class", "--target", "0", "--steps", "3", "--out", str(mine)])
    assert result.exit_code == 2 and "not written by fourlens" in result.output, result.output
    assert (mine / "grid.png").read_bytes() == b"my own picture"
    result = runner.invoke(app, ["vision", "visualize-class", "--parameterization", "wavelet", "--out", str(mine)])
    assert result.exit_code == 2 and "pixel, fourier or both" in result.output


def test_visualize_neuron_and_its_errors(tmp_path, zoo_env):
    out = tmp_path / "neurons"
    result = runner.invoke(app, ["vision", "visualize-neuron", "--layer", "features.5", "--channel", "7",
                                 "--channel", "3", "--steps", "30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out / "neuron_features.5_3_pixel.png").size == (64, 64)
    assert Image.open(out / "grid.png").size == (110 + 2 * 164 + 4, 18 + 164 + 4)
    result = runner.invoke(app, ["vision", "visualize-neuron", "--layer", "features.55", "--channel", "0",
                                 "--out", str(out)])
    assert result.exit_code == 2 and "features.0" in result.output and "classifier" in result.output
    result = runner.invoke(app, ["vision", "visualize-neuron", "--layer", "features.5", "--channel", "16",
                                 "--out", str(out)])
    assert result.exit_code == 2 and "16 channels, 0..15" in result.output, result.output


def test_dream_on_zoo_images(tmp_path, zoo_images):
    out = tmp_path / "dream"
    result = runner.invoke(app, ["vision", "dream", "--image", str(zoo_images), "--layer", "features.8",
                                 "--steps-per-octave", "10", "--parameterization", "both", "--out", str(out)])
    assert result.exit_code == 0, result.output
    dreams = sorted(out.glob("*_dream_*.png"))
    assert len(dreams) == 4 and all(Image.open(p).size == (64, 64) for p in dreams)
    assert len(list(out.glob("*_dream_fourier.png"))) == 2
    assert Image.open(out / "grid.png").size == (110 + 3 * 164 + 4, 18 + 2 * 164 + 4)  # image, pixel, fourier
    report = json.loads((out / "dream.json").read_text())
    assert all(r["end"] > 1.5 * r["start"] for r in report["results"]), report["results"]
    result = runner.invoke(app, ["vision", "dream", "--image", str(zoo_images), "--layer", "features.8",
                                 "--channel", "40", "--out", str(out)])
    assert result.exit_code == 2 and "0..31" in result.output


def test_deconv_on_zoo_images_and_a_user_model(tmp_path, zoo_images, monkeypatch):
    import torch

    out = tmp_path / "deconv"
    result = runner.invoke(app, ["vision", "deconv", "--image", str(zoo_images), "--layer", "features.11",
                                 "--channel", "0", "--channel", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    singles = sorted(out.glob("*_deconv.png"))
    assert len(singles) == 4 and all(Image.open(p).size == (64, 64) for p in singles)
    assert Image.open(out / "grid.png").size == (110 + 3 * 164 + 4, 18 + 2 * 164 + 4)
    report = json.loads((out / "deconv.json").read_text())
    assert all(r["nonzero_pixels"] > 0 for r in report["results"])
    # a user's model from module:factory, at its own size
    (tmp_path / "usermodels_inside.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = runner.invoke(app, ["vision", "deconv", "--model", "usermodels_inside:make", "--image", str(zoo_images),
                                 "--layer", "4", "--channel", "5", "--size", "32", "--out", str(tmp_path / "u")])
    assert result.exit_code == 0, result.output
    assert Image.open(next((tmp_path / "u").glob("*_deconv.png"))).size == (32, 32)
    flat = tmp_path / "flat.pt"  # a model with a fixed input size: the wrong --size is named
    torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))).save(str(flat))
    result = runner.invoke(app, ["vision", "visualize-class", "--model", str(flat), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "--size" in result.output and "(1, 3, 224, 224)" in result.output, result.output
    result = runner.invoke(app, ["vision", "visualize-class", "--model", "usermodels_inside:make", "--size", "32",
                                 "--steps", "10", "--out", str(tmp_path / "uc")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "uc" / "class_2_2_pixel.png").size == (32, 32)


def test_torchscript_class_models_work_and_hooked_verbs_refuse(tmp_path, zoo_images):
    import torch

    scripted = tmp_path / "zoo.pt"
    torch.jit.script(zoo_images_model()).save(str(scripted))
    result = runner.invoke(app, ["vision", "visualize-class", "--model", str(scripted), "--size", "32", "--target", "1",
                                 "--steps", "5", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "c" / "class_1_1_pixel.png").size == (32, 32)
    for verb in (["visualize-neuron", "--channel", "0"], ["dream", "--image", str(zoo_images)],
                 ["deconv", "--channel", "0", "--image", str(zoo_images)]):
        result = runner.invoke(app, ["vision", *verb, "--model", str(scripted), "--layer", "0", "--size", "32",
                                     "--out", str(tmp_path / "d")])
        assert result.exit_code == 2 and "eager nn.Module" in result.output, result.output


def zoo_images_model():
    from torch import nn

    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2)).eval()
