from __future__ import annotations

import json

from typer.testing import CliRunner

from fourlens.cli import app

runner = CliRunner()


def test_attention_page_for_a_sentence_pair(tmp_path):
    out = tmp_path / "attention.html"
    result = runner.invoke(app, ["transformer", "attention", "minilm", "the cat sat on the mat",
                                 "--pair", "the cat lay on the rug", "--html", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "sentence A -&gt; sentence B" in page or "sentence A -> sentence B" in page
    assert "mean attention entropy" in result.output
    # a file fourlens did not write is never overwritten
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my notes</html>")
    result = runner.invoke(app, ["transformer", "attention", "minilm", "hi", "--html", str(mine)])
    assert result.exit_code == 2 and "not written by fourlens" in result.output
    assert mine.read_text() == "<html>my notes</html>"


def test_heads_with_circuit_json_and_heatmap(tmp_path, tinylm_run):
    checkpoint = tinylm_run.checkpoint(tinylm_run.steps[-1])
    result = runner.invoke(app, ["transformer", "heads", str(checkpoint), "--circuit", "--sequences", "32",
                                 "--json", str(tmp_path / "heads.json"), "--html", str(tmp_path / "heads.html")])
    assert result.exit_code == 0, result.output
    assert "induction head L1H" in result.output and "confirmed by ablation" in result.output
    data = json.loads((tmp_path / "heads.json").read_text())
    assert len(data["heads"]) == 8 and data["circuit"]["confirmed"] is True
    assert "plotly" in (tmp_path / "heads.html").read_text()[:2_000_000]


def test_logit_lens_and_compare(tinylm_run, tmp_path):
    final = str(tinylm_run.checkpoint(tinylm_run.steps[-1]))
    first = str(tinylm_run.checkpoint(0))
    result = runner.invoke(app, ["transformer", "logit-lens", final, "xq7#vKm2!pLw9zR xq7#vKm2!pLw9z"])
    assert result.exit_code == 0, result.output
    assert "answer 'R'" in result.output and "blocks.1" in result.output
    result = runner.invoke(app, ["transformer", "compare", final, first, "--probe", "abcdef abcdef",
                                 "--probe", "the cat sat on the mat; the cat", "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert "weakened" in result.output
    assert json.loads((tmp_path / "c.json").read_text())["findings"]


def test_embeddings_and_bad_model(tmp_path):
    result = runner.invoke(app, ["transformer", "embeddings", "minilm", "king", "queen", "cat", "dog",
                                 "--html", str(tmp_path / "map.html")])
    assert result.exit_code == 0, result.output
    assert "queen" in result.output and (tmp_path / "map.html").is_file()
    result = runner.invoke(app, ["transformer", "heads", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "neither" in result.output and "Traceback" not in result.output


def test_attention_window_for_long_texts(tmp_path):
    text = " ".join(f"word{i}" for i in range(150))
    out = tmp_path / "long.html"
    result = runner.invoke(app, ["transformer", "attention", "minilm", text, "--html", str(out)])
    assert result.exit_code == 2 and "window" in result.output
    result = runner.invoke(app, ["transformer", "attention", "minilm", text, "--window", "0:100",
                                 "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "100 tokens" in result.output and out.is_file()
    result = runner.invoke(app, ["transformer", "attention", "minilm", text, "--window", "ten"])
    assert result.exit_code == 2 and "START:STOP" in result.output


def test_heads_over_training(tinylm_run, tmp_path):
    result = runner.invoke(app, ["transformer", "heads", str(tinylm_run.directory), "--over-training",
                                 "--sequences", "16", "--html", str(tmp_path / "curve.html")])
    assert result.exit_code == 0, result.output
    assert "2500" in result.output and (tmp_path / "curve.html").is_file()
    result = runner.invoke(app, ["transformer", "heads", str(tmp_path), "--over-training"])
    assert result.exit_code == 2 and "step-XXXXX" in result.output


def test_device_and_dtype_options(tmp_path, minilm_path):
    result = runner.invoke(app, ["transformer", "heads", "minilm", "--sequences", "4", "--dtype", "bfloat16",
                                 "--json", str(tmp_path / "h.json")])
    assert result.exit_code == 0, result.output
    heads = json.loads((tmp_path / "h.json").read_text())["heads"]
    top = max(heads, key=lambda row: row["previous_token"])
    assert (top["layer"], top["head"]) == (0, 2)
    for verb in (["attention", "minilm", "hi"], ["heads", "minilm"], ["logit-lens", "minilm", "hi"],
                 ["embeddings", "minilm", "a", "b", "c"],
                 ["compare", "minilm", "minilm", "--probe", "a b", "--probe", "c d"]):
        result = runner.invoke(app, ["transformer", *verb, "--dtype", "float8"])
        assert result.exit_code == 2 and "dtype must be" in result.output, (verb, result.output)
    if not __import__("torch").cuda.is_available():
        result = runner.invoke(app, ["transformer", "logit-lens", "minilm", "hi", "--device", "cuda"])
        assert result.exit_code == 2 and "no CUDA device" in result.output
