"""Small I/O helpers shared by every writer: atomic writes, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same directory, then rename.

    The rename is atomic on POSIX and Windows, so readers see either the old file or the new one.
    Returns the resolved path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would (or the replaced file's).
        os.chmod(tmp_name, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target.resolve()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# What each fourlens writer puts in the first bytes of its files, so a later run knows the file is its own.
HTML_MARKER = b'name="generator" content="fourlens'
REPORT_JSON_MARKER = b'"fourlens.report"'


def guard_output(path: str | os.PathLike[str] | None, *markers: bytes, option: str = "",
                 create_folder: bool = False) -> None:
    """Refuse to overwrite a file fourlens did not write, so nothing a user wrote is lost.

    A file counts as fourlens's own when its first 4 KiB contain one of `markers` (the generator tag
    its writer puts there). `option` names the CLI option in the message (e.g. "html" -> "--html PATH").
    The output's folder must exist and be writable (checked now, before any work); with `create_folder`
    (files inside an output directory the command creates) the nearest existing folder above it must be.
    Raises `BadInputError`; a missing path (or None) passes."""
    from fourlens.errors import BadInputError

    if path is None:
        return
    target = Path(path)
    label = f"--{option} {target}" if option else str(target)
    if target.is_dir():
        raise BadInputError(f"{label} is a directory; give a file path")
    check_writable_folder(target.parent, label, create=create_folder)
    if not target.exists():
        return
    with open(target, "rb") as handle:
        head = handle.read(4096)
    if not any(marker in head for marker in markers):
        raise BadInputError(f"{label} exists and was not written by fourlens; choose another path or remove the "
                            "file yourself")


def check_writable_folder(folder: str | os.PathLike[str], label: str, create: bool = False) -> None:
    """Refuse, before any work is done, an output whose folder is missing, not a folder, or not writable,
    so a long run never ends in a PermissionError with nothing saved. `label` names the output. With
    `create`, a missing folder is fine when the nearest existing folder above it is writable."""
    from fourlens.errors import BadInputError

    directory = Path(folder) if str(folder) else Path(".")
    if create:
        while not directory.exists() and directory.parent != directory:
            directory = directory.parent
    if not directory.exists():
        raise BadInputError(f"{label}: the folder {directory} does not exist; create it first or choose another path")
    if not directory.is_dir():
        raise BadInputError(f"{label}: {directory} is a file, not a folder; choose another path")
    try:  # really try: os.access says yes to root on a read-only mount
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise BadInputError(f"{label}: cannot write into the folder {directory} ({exc.strerror}); choose a folder "
                            "you can write to") from None


def expand_paths(path: str | os.PathLike[str] | list | tuple, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """The files a user named: a file as given, a directory's files with one of `suffixes` (recursively,
    sorted, hidden files left out), or a list of either. `what` names them in errors ("eval results")."""
    from fourlens.errors import BadInputError

    if isinstance(path, (list, tuple)):
        return [p for item in path for p in expand_paths(item, suffixes, what)]
    source = Path(path)
    if not source.exists():
        raise BadInputError(f"{source}: no such {what} file or directory")
    if source.is_dir():
        files = sorted(p for p in source.rglob("*")
                       if p.is_file() and p.suffix in suffixes and not p.name.startswith("."))
        if not files:
            raise BadInputError(f"{source}: no {what} inside ({', '.join(suffixes)} files)")
        return files
    return [source]


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as a message shows it: relative to the working directory when it lies under it (what the
    user typed, and the same on every machine), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def iter_json_lines(lines: Iterable[str | bytes], path: str | os.PathLike[str],
                    loads: Callable[[str | bytes], object] = json.loads, start: int = 1,
                    ) -> Iterator[tuple[int, object]]:
    """(line number, JSON value) of each non-blank line, with the one rule every JSONL reader follows.

    A writer that crashes mid-line leaves a truncated last line: that line (the last non-blank one,
    if it is not valid JSON) is dropped with an `InputWarning` naming the file and line, and the lines
    before it are kept. An invalid line anywhere else is a `BadInputError` naming the file and line.
    The check streams: a failing line is held until the next non-blank line shows it was not the last.
    `loads` parses one line (e.g. orjson's, which accepts bytes)."""
    from fourlens.errors import BadInputError

    pending: tuple[int, str] | None = None   # a line that failed to parse, and why
    for number, line in enumerate(lines, start=start):
        try:
            value = loads(line)
        except ValueError as exc:   # json.JSONDecodeError and orjson's error are ValueErrors
            if not line.strip():
                continue
            if pending is not None:
                break
            pending = (number, getattr(exc, "msg", None) or str(exc).split(":")[0])
            continue
        if pending is not None:
            break
        yield number, value
    else:
        if pending is not None:
            warn_truncated_last_line(path, *pending)
        return
    raise BadInputError(f"{path}:{pending[0]}: not valid JSON ({pending[1]}); only a truncated last line is "
                        "tolerated") from None


def warn_truncated_last_line(path: str | os.PathLike[str], number: int, why: str) -> None:
    """The one warning for a dropped truncated last line, naming the file and the line."""
    from fourlens.errors import InputWarning

    warnings.warn(InputWarning(f"{path}:{number}: the last line is not valid JSON ({why}), as when a writer is "
                               "cut off mid-line; it was dropped and the lines before it kept"), stacklevel=3)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict]]:
    """(line number, JSON object) for each non-blank line of a JSONL file; errors name the file and line.
    A truncated last line is dropped with a warning (`iter_json_lines`)."""
    from fourlens.errors import BadInputError

    with open(path, encoding="utf-8") as handle:
        for number, record in iter_json_lines(handle, path):
            if not isinstance(record, dict):
                raise BadInputError(f"{path}:{number}: each line must be a JSON object")
            yield number, record


def read_jsonl(path: str | os.PathLike[str]) -> list[dict]:
    """The JSON objects of a JSONL file (blank lines skipped, a truncated last line dropped with a
    warning); errors name the file and line."""
    return [record for _, record in iter_jsonl(path)]


@contextmanager
def input_warnings() -> Iterator[list[str]]:
    """Collect the messages of the `InputWarning`s raised in the block, for a caller that reports them
    itself (a run's read issues, a triage lens's notes); other warnings pass through unchanged."""
    from fourlens.errors import InputWarning

    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        yield messages
    for warning in caught:
        if issubclass(warning.category, InputWarning):
            messages.append(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
