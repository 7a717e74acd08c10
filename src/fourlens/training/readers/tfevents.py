"""Read TensorBoard event files (`events.out.tfevents.*`) into the tidy scalar table.

Every scalar is kept (no reservoir sampling): `simple_value` summaries and one-element numeric
`tensor` summaries (what `SummaryWriter.add_scalar(new_style=True)` and TF2's `tf.summary.scalar`
write). Values equal what tensorboard's own `EventAccumulator` returns with `size_guidance={'scalars':
0}` (tests/training/test_tfevents.py checks this on files written by torch and by tensorboard).

Speed: the framing walk is the only per-record Python loop. Records are then grouped by length;
within a group, one record is parsed by hand (eventproto.py), and every record that is byte-identical
to it outside the wall_time, step and value fields is decoded by numpy in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.training.readers.eventproto import ParsedEvent, ProtoError, parse_event
from fourlens.training.readers.tfrecord import CHUNK, ReadIssue, group_by_length, read_records

# Folder names of one run's splits (Keras: train/ and validation/; TF Estimator: eval/).
SPLIT_DIRS = {"train", "training", "validation", "val", "valid", "eval", "evaluation", "test"}
MAX_TEMPLATES_PER_BLOCK = 64  # past this, a block's records are too varied to batch; parse one by one


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name and path.is_file()


class _Columns:
    """Scalars gathered out of order (by record id and slot), put back in file order at the end."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.singles: list[tuple[int, int, int, float, int, float]] = []
        self.tags: dict[str, int] = {}

    def code(self, tag: str) -> int:
        return self.tags.setdefault(tag, len(self.tags))

    def add(self, records, slots, steps, walls, tags, values) -> None:
        self.parts.append((np.asarray(records, np.int64), np.asarray(slots, np.int64),
                           np.asarray(steps, np.int64), np.asarray(walls, np.float64),
                           np.asarray(tags, np.int32), np.asarray(values, np.float64)))

    def add_one(self, record: int, event: ParsedEvent) -> None:
        for slot_index, slot in enumerate(event.scalars):
            self.singles.append((record, slot_index, event.step, event.wall_time, self.code(slot.tag),
                                 slot.value))

    def frame(self, n_records: int) -> pd.DataFrame:
        if self.singles:
            self.add(*zip(*self.singles, strict=True))
            self.singles = []
        if not self.parts:
            return pd.DataFrame({"step": np.zeros(0, np.int64), "wall_time": np.zeros(0),
                                 "tag": pd.Categorical([], categories=pd.Index([], dtype=object)),
                                 "value": np.zeros(0)})
        records, slots, steps, walls, tags, values = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        # Row of each scalar in file order: rows of earlier records, then its slot within the record.
        counts = np.bincount(records, minlength=n_records)
        first_row = np.concatenate(([0], np.cumsum(counts)[:-1]))
        position = first_row[records] + slots
        order = np.empty(len(position), np.int64)
        order[position] = np.arange(len(position))
        names = np.array(sorted(self.tags, key=self.tags.get), dtype=object)
        return pd.DataFrame({
            "step": steps[order], "wall_time": walls[order],
            "tag": pd.Categorical.from_codes(tags[order], categories=names),
            "value": values[order],
        })


def read_event_file(path: Path, check_crc: bool = True) -> tuple[pd.DataFrame, tuple[ReadIssue, ...]]:
    """All scalars of one event file, in file order, and the damage found (with byte offsets)."""
    records = read_records(path, check_crc)
    issues = list(records.issues)
    columns = _Columns()
    for length, index in group_by_length(records.lengths):
        for lo in range(0, len(index), CHUNK):
            ids = index[lo:lo + CHUNK]
            # rows[i] = payload of record ids[i], shape (len(ids), length)
            rows = records.data[records.starts[ids][:, None] + np.arange(length)]
            _decode_block(rows, ids, columns, records.starts - 12, path, issues)
    return columns.frame(len(records.starts)), tuple(sorted(issues, key=lambda i: i.offset))


def read_event_files(paths: Sequence[Path], check_crc: bool = True) -> tuple[pd.DataFrame, tuple[ReadIssue, ...]]:
    """Several event files of one run (restarts write new files), read in name order like tensorboard.

    Keras' TensorBoard callback (and TF Estimator's evaluation) write one run as sibling folders
    `train/` and `validation/` (or `eval/`) with the same tag names: when a run's files sit in more
    than one folder, tags from a folder named like a split get that folder's name as prefix
    (`train/epoch_loss`, `validation/epoch_loss`), so the series stay apart as tensorboard shows them."""
    ordered = sorted(paths, key=lambda p: (str(p.parent), p.name))
    split = len({p.parent for p in ordered}) > 1
    frames, issues = [], []
    for path in ordered:
        frame, found = read_event_file(path, check_crc)
        if split and path.parent.name.lower() in SPLIT_DIRS:
            frame["tag"] = frame["tag"].cat.rename_categories(
                [f"{path.parent.name}/{tag}" for tag in frame["tag"].cat.categories])
        frames.append(frame)
        issues.extend(found)
    if not frames:
        return _Columns().frame(0), ()
    if len(frames) == 1:
        return frames[0], tuple(issues)
    tags = pd.Index(pd.unique(np.concatenate([f["tag"].cat.categories.astype(object).to_numpy() for f in frames])))
    for frame in frames:
        frame["tag"] = pd.Categorical(frame["tag"].astype(object), categories=tags)
    return pd.concat(frames, ignore_index=True), tuple(issues)


def _decode_block(rows: np.ndarray, ids: np.ndarray, columns: _Columns, header_offsets: np.ndarray,
                  path: Path, issues: list[ReadIssue]) -> None:
    remaining = np.arange(len(ids))
    templates = 0
    while len(remaining):
        first = int(remaining[0])
        try:
            event = parse_event(rows[first].tobytes())
        except ProtoError as exc:
            offset = int(header_offsets[ids[first]])
            issues.append(ReadIssue(str(path), offset, "malformed",
                                    f"{path}: record at byte {offset:,} has a valid CRC but is not an Event "
                                    f"({exc}); skipped"))
            remaining = remaining[1:]
            continue
        if not event.templatable or templates >= MAX_TEMPLATES_PER_BLOCK:
            columns.add_one(int(ids[first]), event)
            remaining = remaining[1:]
            continue
        templates += 1
        matched = _matching(rows, remaining, first, event)
        _add_template(columns, rows, ids, matched, event)
        remaining = remaining[~np.isin(remaining, matched, assume_unique=True)]


def _free_columns(event: ParsedEvent, length: int) -> np.ndarray:
    free = np.zeros(length, dtype=bool)
    if event.wall_offset is not None:
        free[event.wall_offset:event.wall_offset + 8] = True
    if event.step_span is not None:
        free[event.step_span[0]:event.step_span[1]] = True
    for slot in event.scalars:
        free[slot.offset:slot.offset + np.dtype(slot.dtype).itemsize] = True
    return free


def _matching(rows: np.ndarray, candidates: np.ndarray, first: int, event: ParsedEvent) -> np.ndarray:
    """Candidates byte-identical to the first record outside its free fields (a valid step varint)."""
    fixed = np.flatnonzero(~_free_columns(event, rows.shape[1]))
    same = (rows[np.ix_(candidates, fixed)] == rows[first, fixed]).all(axis=1)
    if event.step_span is not None:
        start, stop = event.step_span
        step_bytes = rows[candidates, start:stop]
        same &= (step_bytes[:, :-1] >= 0x80).all(axis=1) & (step_bytes[:, -1] < 0x80)
    return candidates[same]


def _add_template(columns: _Columns, rows: np.ndarray, ids: np.ndarray, matched: np.ndarray,
                  event: ParsedEvent) -> None:
    n = len(matched)
    if event.wall_offset is None:
        walls = np.zeros(n)
    else:
        walls = rows[matched, event.wall_offset:event.wall_offset + 8].copy().view("<f8")[:, 0]
    if event.step_span is None:
        steps = np.zeros(n, dtype=np.int64)
    else:
        start, stop = event.step_span
        raw = np.zeros(n, dtype=np.uint64)
        for k in range(stop - start):  # little-endian base-128 digits
            raw |= (rows[matched, start + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        steps = raw.view(np.int64)
    for slot_index, slot in enumerate(event.scalars):
        size = np.dtype(slot.dtype).itemsize
        values = rows[matched, slot.offset:slot.offset + size].copy().view(slot.dtype)[:, 0]
        columns.add(ids[matched], np.full(n, slot_index), steps, walls,
                    np.full(n, columns.code(slot.tag)), values.astype(np.float64))
