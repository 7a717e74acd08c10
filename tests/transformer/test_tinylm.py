from __future__ import annotations

import json

import pytest
import torch

from fourlens.demo.tinylm import (
    AsciiTokenizer,
    TinyLMConfig,
    TrainConfig,
    cached_run,
    load,
    repeated_batch,
    run_key,
    train,
)
from fourlens.errors import BadInputError


def test_repeated_batch_copies_a_span_at_random_offsets():
    tokens, predictable = repeated_batch(200, 64, 128, torch.Generator().manual_seed(0), 8, 32)
    assert tokens.shape == (200, 64) and predictable.shape == (200, 64)
    starts = []
    for row in range(200):
        positions = predictable[row].nonzero().flatten()
        length = len(positions) + 1
        second = int(positions[0])
        span = tokens[row, second:second + length]
        # the same span occurs earlier in the row
        earlier = [s for s in range(0, second - length + 1) if torch.equal(tokens[row, s:s + length], span)]
        assert earlier and 8 <= length <= 32
        starts.append((earlier[0], second))
    assert len({b - a for a, b in starts}) > 20  # offsets vary


def test_training_is_seeded_and_leaves_global_state_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    config, short = TinyLMConfig(d_model=16, n_heads=2), TrainConfig(steps=12, checkpoint_every=5)
    model_a, log_a = train(config, short, out_dir=tmp_path / "a")
    model_b, log_b = train(config, short)
    assert torch.equal(torch.rand(1), expected) and torch.get_num_threads() == threads
    assert log_a == log_b
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(),
                                                  strict=True))
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["config.json", "log.jsonl", "step-00000.safetensors", "step-00005.safetensors",
                     "step-00010.safetensors", "step-00012.safetensors"]
    reloaded = load(tmp_path / "a" / "step-00012.safetensors")
    ids = torch.randint(128, (2, 10))
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, model_a.eval()(ids).logits)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["model"]["d_model"] == 16
    run = cached_run(config, short, directory=tmp_path / "a")  # complete: reused, not retrained
    assert run.steps == (0, 5, 10, 12) and len(run.log()) == 12


def test_bad_checkpoints_and_inputs(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(BadInputError, match="safetensors"):
        load(tmp_path / "junk.safetensors")
    model, _ = train(TinyLMConfig(d_model=16, n_heads=2), TrainConfig(steps=1), out_dir=tmp_path / "small")
    with pytest.raises(BadInputError, match="do not fit|not a TinyLM"):
        load(tmp_path / "small" / "step-00001.safetensors", TinyLMConfig())
    with pytest.raises(BadInputError, match="context"):
        model(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(BadInputError, match="ASCII"):
        AsciiTokenizer()(["naïve"])


def test_the_cache_key_of_the_default_run_is_unchanged(monkeypatch):
    # the folder name of the cached default run: a change retrains every user's TinyLM
    monkeypatch.setattr(torch, "__version__", "2.13.0+cpu")
    assert run_key(TinyLMConfig(), TrainConfig()) == "1c118494049c6620"
    assert run_key(TinyLMConfig(), TrainConfig(seed=1)) != "1c118494049c6620"
    monkeypatch.setattr(torch, "__version__", "2.14.0")
    assert run_key(TinyLMConfig(), TrainConfig()) != "1c118494049c6620"


def test_first_use_says_it_trains_and_where_it_caches(tmp_path, capsys):
    config, short = TinyLMConfig(d_model=16, n_heads=2), TrainConfig(steps=3, checkpoint_every=1)
    cached_run(config, short, directory=tmp_path / "run", verbose=True)
    out, err = capsys.readouterr()
    assert out == ""  # stdout stays for results (a JSON piped elsewhere)
    assert "training TinyLM on the CPU" in err and f"cached at {tmp_path / 'run'}" in err
    assert "trained TinyLM in" in err
    cached_run(config, short, directory=tmp_path / "run", verbose=True)
    assert capsys.readouterr() == ("", "")  # reused: nothing to say


def test_the_cli_says_tinylm_trains_when_stdout_is_not_a_terminal(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fourlens.cli import app
    from fourlens.demo.tinylm import cache

    # a 3-step run stands in for the 2,500-step default (the message is the same)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "TrainConfig", lambda: TrainConfig(steps=3, checkpoint_every=1))
    result = CliRunner().invoke(app, ["transformer", "attention", "tinylm", "abcabc",
                                      "--html", str(tmp_path / "attention.html")])
    assert result.exit_code == 0, result.output
    assert "training TinyLM on the CPU" in result.stderr and str(tmp_path / "cache") in result.stderr
    assert "training TinyLM" not in result.stdout
