"""`fourlens demo --out DIR` replaces only the files an earlier demo wrote, and checks before any work."""

import pytest

from fourlens.demo.ownership import MARKER, check_workspace, record_workspace
from fourlens.errors import BadInputError


def _demo_files(root):
    (root / "baseline" / "model").mkdir(parents=True)
    (root / "baseline" / "model" / "config.json").write_text("{}")
    (root / "extras" / "eval-tasks").mkdir(parents=True)
    (root / "extras" / "eval-tasks" / "task.yaml").write_text("task: x")
    return [root / "baseline", root / "extras" / "eval-tasks"]


def test_a_users_report_in_the_folder_is_never_replaced(tmp_path):
    (tmp_path / "report.html").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(BadInputError, match="report.html was not written by fourlens demo"):
            check_workspace(tmp_path, [tmp_path / "baseline"], overwrite)
    assert (tmp_path / "report.html").read_text() == "mine"


def test_overwrite_replaces_the_demos_files_and_refuses_a_file_the_user_added(tmp_path):
    targets = _demo_files(tmp_path)
    record_workspace(tmp_path, targets)
    (tmp_path / "report.html").write_text("the demo's report")
    with pytest.raises(BadInputError, match="already holds a demo workspace; pass --overwrite"):
        check_workspace(tmp_path, targets, overwrite=False)
    (tmp_path / "baseline" / "notes.txt").write_text("mine")
    with pytest.raises(BadInputError, match="notes.txt was not written by fourlens demo"):
        check_workspace(tmp_path, targets, overwrite=True)
    (tmp_path / "baseline" / "notes.txt").unlink()
    check_workspace(tmp_path, targets, overwrite=True)
    assert not (tmp_path / "baseline").exists() and not (tmp_path / "report.html").exists()
    assert (tmp_path / MARKER).exists()   # replaced when the new workspace is recorded


def test_an_empty_or_new_folder_is_fine(tmp_path):
    check_workspace(tmp_path / "new", [tmp_path / "new" / "baseline"], overwrite=False)
    (tmp_path / "empty" / "baseline").mkdir(parents=True)
    check_workspace(tmp_path / "empty", [tmp_path / "empty" / "baseline"], overwrite=False)
