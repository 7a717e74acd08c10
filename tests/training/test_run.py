import numpy as np
import pytest

from fourlens.errors import BadInputError
from fourlens.training import load_run


def test_wide_csv_keeps_absent_cells_absent_and_nan_visible(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("step,loss,grad_norm,phase\n1,2.0,1.0,warmup\n2,,1.5,warmup\n3,nan,inf,main\n")
    run = load_run(path)
    loss = run.signal("loss")
    assert loss.index.tolist() == [1, 3] and loss.iloc[0] == 2.0 and np.isnan(loss.iloc[1])
    assert np.isinf(run.signal("grad_norm").loc[3])
    assert "phase" not in run.tags


def test_jsonl_long_format_and_aliases(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1, "tag": "train/loss", "value": 2.5, "wall_time": 10.0}\n'
                    '{"step": 2, "tag": "train/loss", "value": NaN, "wall_time": 11.0}\n')
    run = load_run(path)
    assert run.tag_for("loss") == "train/loss"
    assert run.scalars["wall_time"].tolist() == [10.0, 11.0]
    custom = load_run(path, aliases={"loss": ("nothing",)})
    assert custom.tag_for("loss") == "train/loss"


def test_truncated_last_line_is_tolerated_but_middle_corruption_is_not(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.9}\n{"step": 3, "lo')
    assert load_run(path).signal("loss").index.tolist() == [1, 2]
    path.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo\n{"step": 3, "loss": 1.9}\n')
    with pytest.raises(BadInputError, match=r"m.jsonl:2: not valid JSON"):
        load_run(path)


def test_clear_errors(tmp_path):
    (tmp_path / "nostep.csv").write_text("loss\n1\n")
    with pytest.raises(BadInputError, match="no step column"):
        load_run(tmp_path / "nostep.csv")
    with pytest.raises(BadInputError, match="no such log file"):
        load_run(tmp_path / "missing.csv")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInputError, match="unknown scalar log format"):
        load_run(tmp_path / "notes.txt")
