import os

from fourlens._io import write_atomic


def test_write_atomic_replaces_whole_file_with_normal_mode(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    write_atomic(path, "first")
    assert path.read_text() == "first"
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    os.chmod(path, 0o640)
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second" and path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]  # no temporary left behind


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_guard_output_protects_files_fourlens_did_not_write(tmp_path):
    import pytest

    from fourlens._io import HTML_MARKER, guard_output
    from fourlens.errors import BadInputError

    guard_output(None, HTML_MARKER)
    guard_output(tmp_path / "new.html", HTML_MARKER)  # not there yet: fine
    ours = tmp_path / "ours.html"
    ours.write_bytes(b"<html><head><meta " + HTML_MARKER + b' report"></head></html>')
    guard_output(ours, HTML_MARKER)
    theirs = tmp_path / "notes.html"
    theirs.write_text("<html>my notes</html>")
    with pytest.raises(BadInputError, match=r"--html .*notes.html exists and was not written by fourlens"):
        guard_output(theirs, HTML_MARKER, option="html")
    with pytest.raises(BadInputError, match="is a directory"):
        guard_output(tmp_path, HTML_MARKER)
    assert theirs.read_text() == "<html>my notes</html>"


def test_guard_output_refuses_a_missing_or_unwritable_folder_before_any_work(tmp_path, monkeypatch):
    import tempfile

    import pytest

    from fourlens._io import HTML_MARKER, guard_output
    from fourlens.errors import BadInputError

    with pytest.raises(BadInputError, match=r"--html .*the folder .*missing does not exist"):
        guard_output(tmp_path / "missing" / "r.html", HTML_MARKER, option="html")
    assert not (tmp_path / "missing").exists()   # nothing created
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        guard_output(tmp_path / "afile" / "r.html", HTML_MARKER)

    locked = tmp_path / "locked"
    locked.mkdir()
    real = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):  # what an unwritable folder does (root ignores chmod, so simulate)
        if dir is not None and os.fspath(dir) == os.fspath(locked):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    with pytest.raises(BadInputError, match=r"cannot write into the folder .*locked \(Permission denied\)"):
        guard_output(locked / "r.html", HTML_MARKER, option="html")
    guard_output(tmp_path / "r.html", HTML_MARKER)   # a writable folder passes


def test_guard_output_for_files_of_an_output_directory_may_create_it(tmp_path):
    import pytest

    from fourlens._io import guard_output
    from fourlens.errors import BadInputError

    guard_output(tmp_path / "maps" / "sub" / "grid.png", b"fourlens", create_folder=True)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        guard_output(tmp_path / "afile" / "maps" / "grid.png", b"fourlens", create_folder=True)
