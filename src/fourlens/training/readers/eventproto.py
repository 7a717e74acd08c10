"""The Event / Summary / TensorProto protobuf wire format, decoded by hand (no tensorflow, no protobuf).

Field numbers from tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto and
tensor.proto: Event{wall_time=1 double, step=2 int64, summary=5}; Summary{value=1 repeated};
Summary.Value{tag=1, simple_value=2 float, node_name=7, tensor=8, metadata=9};
TensorProto{dtype=1, tensor_shape=2, tensor_content=4, float_val=5, double_val=6, int_val=7,
int64_val=10, bool_val=11, half_val=13, uint32_val=16, uint64_val=17}; TensorShapeProto{dim=2{size=1}}.

`parse_event` also returns the byte *layout* of the event: where wall_time, step and each scalar
value sit. Events written by one writer for one tag are byte-identical outside those fields, so the
reader decodes thousands of them at once from one layout (see tfevents.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

# TensorFlow DataType enum -> numpy dtype of its little-endian tensor_content (bfloat16 handled apart).
CONTENT_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "u1",
                  17: "<u2", 19: "<f2", 22: "<u4", 23: "<u8"}
BFLOAT16 = 14
FIXED_SLOT_DTYPES = ("<f4", "<f8", "<i4", "<i8", "<f2", "u1", "i1", "<i2", "<u2", "<u4", "<u8")


class ProtoError(ValueError):
    """The bytes are not a well-formed Event message."""


@dataclass(frozen=True)
class Slot:
    """One scalar inside an event: its tag, value and, when fixed-width, its byte offset and dtype."""

    tag: str
    value: float
    kind: str                 # "simple_value" or "tensor"
    offset: int | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class ParsedEvent:
    wall_time: float
    step: int
    scalars: tuple[Slot, ...]
    wall_offset: int | None
    step_span: tuple[int, int] | None   # [start, end) of the step varint

    @property
    def templatable(self) -> bool:
        return all(s.offset is not None for s in self.scalars)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint longer than 10 bytes")


def _fields(buf: bytes, pos: int, end: int):
    """Yield (field_number, wire_type, varint_value, start, stop) for each field in buf[pos:end]."""
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            start = pos
            value, pos = _varint(buf, pos)
            yield number, wire, value, start, pos
            continue
        if wire == 1:
            size = 8
        elif wire == 5:
            size = 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
        else:
            raise ProtoError(f"unsupported wire type {wire}")
        if pos + size > end:
            raise ProtoError("field runs past the end of its message")
        yield number, wire, 0, pos, pos + size
        pos += size


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def parse_event(buf: bytes) -> ParsedEvent:
    """Decode one serialized Event; only scalar summary values are kept."""
    wall_time, step = 0.0, 0
    wall_offset, step_span = None, None
    scalars: list[Slot] = []
    for number, wire, value, start, stop in _fields(buf, 0, len(buf)):
        if number == 1 and wire == 1:
            (wall_time,) = struct.unpack_from("<d", buf, start)
            wall_offset = start
        elif number == 2 and wire == 0:
            step, step_span = _signed64(value), (start, stop)
        elif number == 5 and wire == 2:
            for vnum, vwire, _, vstart, vstop in _fields(buf, start, stop):
                if vnum == 1 and vwire == 2:
                    slot = _parse_value(buf, vstart, vstop)
                    if slot is not None:
                        scalars.append(slot)
    return ParsedEvent(float(wall_time), step, tuple(scalars), wall_offset, step_span)


def _parse_value(buf: bytes, pos: int, end: int) -> Slot | None:
    tag, node_name = "", ""
    simple: Slot | None = None
    tensor_span = None
    for number, wire, _, start, stop in _fields(buf, pos, end):
        if number == 1 and wire == 2:
            tag = buf[start:stop].decode("utf-8", errors="replace")
        elif number == 7 and wire == 2:
            node_name = buf[start:stop].decode("utf-8", errors="replace")
        elif number == 2 and wire == 5:
            (value,) = struct.unpack_from("<f", buf, start)
            simple = Slot("", float(value), "simple_value", start, "<f4")
        elif number == 8 and wire == 2:
            tensor_span = (start, stop)
    if simple is not None:
        return Slot(tag, simple.value, simple.kind, simple.offset, simple.dtype)
    if tensor_span is not None:
        parsed = _parse_scalar_tensor(buf, *tensor_span)
        if parsed is not None:
            value, offset, dtype = parsed
            # tensorboard's EventAccumulator names an untagged tensor by its node_name
            return Slot(tag or node_name, value, "tensor", offset, dtype)
    return None


def _parse_scalar_tensor(buf: bytes, pos: int, end: int) -> tuple[float, int | None, str | None] | None:
    """(value, offset, dtype) of a one-element numeric TensorProto, else None."""
    dtype = 0
    numel = 1
    content: tuple[int, int] | None = None
    typed: list[tuple[int, int, int, int, int]] = []   # (field, wire, varint, start, stop)
    for number, wire, value, start, stop in _fields(buf, pos, end):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            for dnum, dwire, _, dstart, dstop in _fields(buf, start, stop):
                if dnum == 2 and dwire == 2:
                    size = next((v for n, w, v, _, _ in _fields(buf, dstart, dstop) if n == 1 and w == 0), 0)
                    numel *= _signed64(size)
                elif dnum == 3:
                    return None  # unknown rank
        elif number == 4 and wire == 2:
            content = (start, stop)
        elif number in (5, 6, 7, 10, 11, 13, 16, 17):
            typed.append((number, wire, value, start, stop))
    if numel != 1:
        return None
    if content is not None and content[1] > content[0]:
        start, stop = content
        if dtype == BFLOAT16 and stop - start == 2:
            bits = int.from_bytes(buf[start:stop], "little") << 16
            return float(struct.unpack("<f", bits.to_bytes(4, "little"))[0]), None, None
        np_dtype = CONTENT_DTYPES.get(dtype)
        if np_dtype is None or np.dtype(np_dtype).itemsize != stop - start:
            return None
        return float(np.frombuffer(buf, dtype=np_dtype, count=1, offset=start)[0]), start, np_dtype
    for number, wire, value, start, stop in typed:
        if number == 5:   # float_val, packed (wire 2) or not (wire 5)
            if (wire == 2 and stop - start == 4) or wire == 5:
                return float(struct.unpack_from("<f", buf, start)[0]), start, "<f4"
        elif number == 6:
            if (wire == 2 and stop - start == 8) or wire == 1:
                return float(struct.unpack_from("<d", buf, start)[0]), start, "<f8"
        elif number == 13:  # half_val holds the 16 raw bits of a half or bfloat16 in an int32 varint
            bits = value if wire == 0 else _varint(buf, start)[0]
            if dtype == BFLOAT16:
                return float(struct.unpack("<f", (bits << 16).to_bytes(4, "little"))[0]), None, None
            return float(np.array([bits], dtype="<u2").view("<f2")[0]), None, None
        else:  # int_val, int64_val, bool_val, uint32_val, uint64_val: varints
            raw = value if wire == 0 else _varint(buf, start)[0]
            if number in (7, 10):  # int32 and int64 negatives are both sign-extended to 64 bits
                raw = _signed64(raw)
            return float(raw), None, None
    return None
