import os
import time

import pytest

from fourlens.errors import BadInputError
from fourlens.runs import RunsDirectory, check_runs_root, fingerprint
from tests.server.conftest import write_items


def bundle(root, name, manifest=None, accuracy=0.7):
    write_items(root / name / "evals" / "items.jsonl", accuracy)
    if manifest is not None:
        (root / name / "fourlens.toml").write_text(manifest)
    return root / name


def test_checkpoints_are_ordered_by_the_manifest_step_then_the_name(tmp_path):
    bundle(tmp_path, "late", '[options.training]\ncheckpoint_step = 900\n')
    bundle(tmp_path, "ckpt-100")
    bundle(tmp_path, "ckpt-20")
    bundle(tmp_path, "final")   # no number anywhere: after the others
    runs = RunsDirectory(tmp_path)
    assert [(c.id, c.step) for c in runs.checkpoints()] == [("ckpt-20", 20), ("ckpt-100", 100), ("late", 900),
                                                            ("final", None)]


def test_a_bundle_that_appears_or_changes_is_picked_up(tmp_path):
    bundle(tmp_path, "ckpt-1")
    runs = RunsDirectory(tmp_path, reload_s=0.0)
    first = runs.checkpoints()
    assert [c.id for c in first] == ["ckpt-1"]
    bundle(tmp_path, "ckpt-2")
    assert [c.id for c in runs.checkpoints()] == ["ckpt-1", "ckpt-2"]
    items = tmp_path / "ckpt-1" / "evals" / "items.jsonl"
    items.write_text(items.read_text() + items.read_text().splitlines()[0].replace("q0", "q999") + "\n")
    later = time.time() + 5
    os.utime(items, (later, later))
    assert runs.get("ckpt-1").fingerprint != first[0].fingerprint
    # a slower reload interval serves the last scan until it expires
    runs_slow = RunsDirectory(tmp_path, reload_s=3600)
    runs_slow.checkpoints()
    bundle(tmp_path, "ckpt-3")
    assert [c.id for c in runs_slow.checkpoints()] == ["ckpt-1", "ckpt-2"]
    assert [c.id for c in runs_slow.checkpoints(refresh=True)] == ["ckpt-1", "ckpt-2", "ckpt-3"]


def test_a_bundle_that_fails_to_load_is_kept_with_its_error(tmp_path):
    bundle(tmp_path, "ckpt-1")
    (tmp_path / "ckpt-2").mkdir()
    (tmp_path / "ckpt-2" / "notes.md").write_text("nothing to read")
    (tmp_path / "ckpt-3").mkdir()
    (tmp_path / "ckpt-3" / "fourlens.toml").write_text("name = [broken")
    runs = RunsDirectory(tmp_path)
    by_id = {c.id: c for c in runs.checkpoints()}
    assert by_id["ckpt-1"].ok and not by_id["ckpt-2"].ok and not by_id["ckpt-3"].ok
    assert "holds no evidence" in by_id["ckpt-2"].error
    assert "not valid TOML" in by_id["ckpt-3"].error
    assert [c.id for c in runs.loaded()] == ["ckpt-1"]
    assert runs.problem() is None


def test_empty_and_non_bundle_directories_say_so(tmp_path):
    assert "holds no checkpoints yet" in RunsDirectory(tmp_path).problem()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.md").write_text("# not evidence")
    problem = RunsDirectory(tmp_path).problem()
    assert "no bundle fourlens can read" in problem and "a:" in problem


def test_one_bundle_or_a_missing_path_is_not_a_runs_directory(tmp_path):
    one = bundle(tmp_path, "ckpt-1")
    with pytest.raises(BadInputError, match="is one bundle"):
        check_runs_root(one)
    (one / "fourlens.toml").write_text('name = "x"\n')
    with pytest.raises(BadInputError, match="is one bundle"):
        check_runs_root(one)
    with pytest.raises(BadInputError, match="does not exist"):
        check_runs_root(tmp_path / "missing")
    with pytest.raises(BadInputError, match="is a file"):
        check_runs_root(one / "fourlens.toml")


def test_ids_are_url_safe_and_unique(tmp_path):
    bundle(tmp_path, "run 1 (copy)")
    bundle(tmp_path, "ckpt.final")
    ids = [c.id for c in RunsDirectory(tmp_path).checkpoints()]
    assert "ckpt.final" in ids
    odd = next(i for i in ids if i != "ckpt.final")
    assert odd.startswith("run-1-copy-") and " " not in odd and "(" not in odd


def test_fingerprint_follows_content_not_location(tmp_path):
    a = bundle(tmp_path, "a")
    before = fingerprint(a)
    assert fingerprint(a) == before
    (a / "evals" / "more.jsonl").write_text("{}\n")
    assert fingerprint(a) != before


def test_folders_without_a_manifest_beside_bundles_with_one_are_not_checkpoints(tmp_path):
    bundle(tmp_path, "baseline", 'name = "demo-baseline"\n')
    bundle(tmp_path, "candidate", 'name = "demo-candidate"\n')
    bundle(tmp_path, "eval-tasks")   # eval items beside the bundles, as a demo workspace has
    runs = RunsDirectory(tmp_path)
    assert [c.id for c in runs.checkpoints()] == ["baseline", "candidate"]
    assert runs.ignored() == ("eval-tasks",)
    # a lone manifest (one bundle's options) does not make its siblings something else
    (tmp_path / "baseline" / "fourlens.toml").unlink()
    assert [c.id for c in RunsDirectory(tmp_path).checkpoints()] == ["baseline", "candidate", "eval-tasks"]
