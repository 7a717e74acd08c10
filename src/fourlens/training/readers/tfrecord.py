"""TFRecord framing: find every record in a file and check both of its CRCs.

Each record is `uint64 length | uint32 masked_crc32c(length) | payload[length] |
uint32 masked_crc32c(payload)`, little-endian (tensorflow/core/lib/io/record_writer.cc). A crashed
writer leaves a truncated final record; a flipped byte breaks a CRC. Both are reported with the byte
offset; every intact record before and after the damage is kept (the reader resynchronises on the next
intact record after a broken length).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourlens.training.readers.crc32c import crc32c, crc32c_rows, mask

HEADER = 12  # length (8) + its masked CRC (4)
FOOTER = 4
CHUNK = 1 << 18  # records per vectorized CRC block, bounding the gathered bytes


@dataclass(frozen=True)
class ReadIssue:
    """A damaged part of a log file: what, where (byte offset), and what was kept."""

    path: str
    offset: int
    kind: str      # "truncated", "length_crc", "data_crc", "skipped", "malformed", "summary"
    message: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Records:
    """The intact records of one file: payload start offsets and lengths into `data`."""

    data: np.ndarray      # the whole file, uint8
    starts: np.ndarray    # int64, payload offsets
    lengths: np.ndarray   # int64, payload lengths
    issues: tuple[ReadIssue, ...]


def read_records(path: Path, check_crc: bool = True) -> Records:
    """Frame every record of a TFRecord file; damaged records are dropped and reported.

    A damaged length (its CRC fails, or it points past the end of the file) breaks the framing: with
    `check_crc` the reader resynchronises on the next intact record (one whose length CRC and payload
    CRC both check, a false match has odds of about 2^-64 per byte) and reports the bytes it skipped,
    so one corrupt stretch in the middle costs the records it touches, not the rest of the file. A
    non-empty file with no intact record at all is refused: it is not an event file, or it is damaged
    throughout, and reading it as "no scalars" would hide that."""
    from fourlens.errors import BadInputError

    data = np.fromfile(path, dtype=np.uint8)
    size = len(data)
    header_parts: list[np.ndarray] = []
    size_parts: list[np.ndarray] = []
    issues: list[ReadIssue] = []
    pos = skipped = 0
    while pos < size:
        # the records framed from `pos` on, up to where the framing breaks (`stop`)
        header_starts, record_sizes, stop = frame_records(data[pos:])
        header_starts, stop = header_starts + pos, stop + pos
        if check_crc and len(header_starts):
            kept, damaged = _check_lengths(data, header_starts)
            if damaged is not None:
                header_starts, record_sizes, stop = kept, record_sizes[:len(kept)], damaged
        header_parts.append(header_starts)
        size_parts.append(record_sizes)
        if stop >= size:
            break
        resume = _resynchronise(data, stop + 1) if check_crc else None
        if resume is None:
            issues.append(_tail_issue(path, data, stop))
            break
        issues.append(ReadIssue(str(path), stop, "skipped",
                                f"{path}: {resume - stop:,} damaged bytes skipped (bytes {stop:,} to {resume - 1:,}: "
                                f"a record length or its CRC is corrupt); reading resumed at the next intact "
                                f"record, at byte {resume:,}"))
        skipped += resume - stop
        pos = resume
    header_starts = np.concatenate(header_parts) if header_parts else np.zeros(0, dtype=np.int64)
    record_sizes = np.concatenate(size_parts) if size_parts else np.zeros(0, dtype=np.int64)
    lengths = record_sizes - HEADER - FOOTER
    payload_starts = header_starts + HEADER
    if check_crc and len(header_starts):
        good = _check_payloads(data, payload_starts, lengths)
        for offset in header_starts[~good]:
            issues.append(ReadIssue(str(path), int(offset), "data_crc",
                                    f"{path}: record at byte {int(offset):,} fails its payload CRC; "
                                    "that record was skipped, the others kept"))
        payload_starts, lengths = payload_starts[good], lengths[good]
    if size and not len(payload_starts):
        raise BadInputError(f"{path}: no intact TFRecord in its {size:,} bytes; it is not a TensorBoard event "
                            "file, or it is damaged throughout; remove it from the log folder or restore it")
    if skipped:   # how much the damage cost, in one line
        lost = sum(1 for i in issues if i.kind == "data_crc")
        issues.append(ReadIssue(str(path), size, "summary",
                                f"{path}: kept {len(payload_starts):,} intact records; lost {skipped:,} damaged bytes"
                                + (f" and {lost:,} record(s) whose payload CRC failed" if lost else "")))
    return Records(data=data, starts=payload_starts, lengths=lengths,
                   issues=tuple(sorted(issues, key=lambda i: i.offset)))


def _resynchronise(data: np.ndarray, start: int) -> int | None:
    """The offset of the first intact record at or after `start`: its length CRC checks, the record fits
    in the file and its payload CRC checks. None when there is none. Scans every byte offset, vectorized
    in blocks (a length CRC matches by chance once in 2^32 offsets; the payload CRC settles those)."""
    size = len(data)
    block = 1 << 16
    offsets = np.arange(8)
    for lo in range(start, size - HEADER - FOOTER + 1, block):
        candidates = np.arange(lo, min(lo + block, size - HEADER - FOOTER + 1), dtype=np.int64)
        length_bytes = np.ascontiguousarray(data[candidates[:, None] + offsets])
        stored = data[candidates[:, None] + np.arange(8, 12)].copy().view("<u4")[:, 0]
        for offset in candidates[mask(crc32c_rows(length_bytes)) == stored]:
            offset = int(offset)
            length = int(data[offset:offset + 8].copy().view("<u8")[0])
            end = offset + HEADER + length
            if end + FOOTER > size:
                continue
            payload_crc = int(data[end:end + FOOTER].copy().view("<u4")[0])
            if mask(crc32c(data[offset + HEADER:end].tobytes())) == payload_crc:
                return offset
    return None


def frame_records(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Header offsets and sizes of all complete records, and the offset where framing stopped.

    The walk is inherently sequential (each length says where the next record begins), but logs
    repeat: a writer logging the same tags every step produces a cycle of record lengths. When the
    last lengths repeat with period p, the next records' offsets are predicted from the cycle, and
    their length fields are read all at once; the prefix where every length matches is exactly what
    the sequential walk would find. Otherwise one record is stepped in Python."""
    buffer = memoryview(data)
    size = len(data)
    unpack = struct.Struct("<Q").unpack_from
    blocks: list[np.ndarray] = []
    size_blocks: list[np.ndarray] = []
    recent: list[int] = []   # record sizes (header + payload + footer) of the last records walked
    singles: list[int] = []
    pos = 0
    guess = 64
    while pos + HEADER <= size:
        period = _period(recent)
        if period:
            cycle = np.asarray(recent[-period:], dtype=np.int64)
            sizes = np.tile(cycle, guess // period + 1)[:guess]
            predicted = pos + np.concatenate(([0], np.cumsum(sizes[:-1])))
            fits = predicted + sizes <= size
            readable = np.minimum(predicted, max(0, size - 8))
            lengths = data[readable[:, None] + np.arange(8)].copy().view("<u8")[:, 0].astype(np.int64)
            ok = fits & (lengths + HEADER + FOOTER == sizes)
            accepted = int(np.argmin(ok)) if not ok.all() else len(ok)
            if accepted:
                if singles:
                    blocks.append(np.asarray(singles, dtype=np.int64))
                    size_blocks.append(np.diff(np.append(blocks[-1], pos)))
                    singles = []
                blocks.append(predicted[:accepted])
                size_blocks.append(sizes[:accepted])
                pos = int(predicted[accepted - 1] + sizes[accepted - 1])
                recent = sizes[:accepted].tolist()[-3 * period:] if accepted >= 3 * period else \
                    (recent + sizes[:accepted].tolist())[-48:]
                guess = min(guess * 4, CHUNK) if accepted == len(ok) else 64
                continue
        (length,) = unpack(buffer, pos)
        end = pos + HEADER + length + FOOTER
        if end > size:
            break
        singles.append(pos)
        recent.append(end - pos)
        if len(recent) > 48:
            del recent[:-48]
        pos = end
    if singles:
        blocks.append(np.asarray(singles, dtype=np.int64))
        size_blocks.append(np.diff(np.append(blocks[-1], pos)))
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), pos
    return np.concatenate(blocks), np.concatenate(size_blocks), pos


def _period(recent: list[int]) -> int:
    """The smallest p <= 16 such that the last 3p sizes are one cycle repeated three times, or 0."""
    for p in range(1, 17):
        if len(recent) < 3 * p:
            return 0
        if recent[-p:] == recent[-2 * p:-p] == recent[-3 * p:-2 * p]:
            return p
    return 0


def _check_lengths(data: np.ndarray, header_starts: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Keep the records before the first bad length CRC (after it the framing cannot be trusted)."""
    for lo in range(0, len(header_starts), CHUNK):
        block = header_starts[lo:lo + CHUNK]
        length_bytes = np.ascontiguousarray(data[block[:, None] + np.arange(8)])
        stored = data[block[:, None] + np.arange(8, 12)].copy().view("<u4")[:, 0]
        bad = np.nonzero(mask(crc32c_rows(length_bytes)) != stored)[0]
        if len(bad):
            first = lo + int(bad[0])
            return header_starts[:first], int(header_starts[first])
    return header_starts, None


def _check_payloads(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether each payload matches its stored masked CRC (records grouped by length, vectorized)."""
    good = np.ones(len(starts), dtype=bool)
    for length, index in group_by_length(lengths):
        for lo in range(0, len(index), CHUNK):
            rows = index[lo:lo + CHUNK]
            base = starts[rows]
            payload = data[base[:, None] + np.arange(length)] if length else np.zeros((len(rows), 0), np.uint8)
            stored = data[(base + length)[:, None] + np.arange(4)].copy().view("<u4")[:, 0]
            good[rows] = mask(crc32c_rows(np.ascontiguousarray(payload))) == stored
    return good


def group_by_length(lengths: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(length, record indices in file order) for every distinct length."""
    if not len(lengths):
        return []
    keys = lengths.astype(np.uint16) if lengths.max() < 65_536 else lengths
    order = np.argsort(keys, kind="stable")
    sorted_lengths = lengths[order]
    cuts = np.flatnonzero(np.diff(sorted_lengths)) + 1
    return [(int(sorted_lengths[part[0]]), order_part)
            for part, order_part in zip(np.split(np.arange(len(order)), cuts), np.split(order, cuts), strict=True)]


def _tail_issue(path: Path, data: np.ndarray, pos: int) -> ReadIssue:
    size = len(data)
    if pos + HEADER <= size:
        header = data[pos:pos + 8].tobytes()
        stored = int(data[pos + 8:pos + 12].copy().view("<u4")[0])
        if mask(crc32c(header)) != stored:
            return ReadIssue(str(path), pos, "length_crc",
                             f"{path}: record length CRC mismatch at byte {pos:,}; the records before "
                             "it were kept")
    return ReadIssue(str(path), pos, "truncated",
                     f"{path}: the last record (from byte {pos:,}, {size - pos} of its bytes present) is "
                     "truncated, as when a run crashes mid-write; the records before it were kept")
