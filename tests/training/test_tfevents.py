"""Our TensorBoard reader against tensorboard's own EventAccumulator, on files the real writers wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# tensorboard is the reference implementation (in fourlens[dev]); without it this module fails, not skips.
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util
from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.errors import BadInputError
from fourlens.training import load_run
from fourlens.training.readers import read_event_file, read_event_files
from fourlens.training.readers.crc32c import crc32c, crc32c_rows, mask
from fourlens.training.readers.tfrecord import frame_records, read_records

REAL = Path(__file__).parent / "fixtures" / "real"


def accumulated(run_dir):
    """Every scalar tensorboard itself sees: simple_value scalars and one-element tensors, by tag."""
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    seen = {}
    for tag in acc.Tags()["scalars"]:
        seen[tag] = [(e.step, e.wall_time, e.value) for e in acc.Scalars(tag)]
    for tag in acc.Tags()["tensors"]:
        arrays = [(e.step, e.wall_time, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        if arrays and all(a.size == 1 and a.dtype.kind in "fiub" for _, _, a in arrays):
            seen[tag] = [(s, w, float(a.item())) for s, w, a in arrays]
    return seen


def ours(run_dir):
    frame = load_run(run_dir).scalars
    return {str(tag): list(zip(g["step"].tolist(), g["wall_time"].tolist(), g["value"].tolist(), strict=True))
            for tag, g in frame.groupby("tag", observed=True, sort=False)}


def assert_same(run_dir):
    expected, got = accumulated(run_dir), ours(run_dir)
    assert sorted(got) == sorted(expected)
    for tag, rows in expected.items():
        assert len(got[tag]) == len(rows), tag
        np.testing.assert_array_equal(np.array(got[tag]), np.array(rows, dtype=float), err_msg=tag)


def torch_run(run_dir, steps=400, start=0, seed=0):
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(seed)
    writer = SummaryWriter(str(run_dir))
    for step in range(start, start + steps):
        writer.add_scalar("train/loss", float(rng.normal(3, 1)), step)
        writer.add_scalar("lr", 1e-3 * min(1, step / 100), step, new_style=True)
        writer.add_scalar("grad_norm", float(rng.lognormal()), step, new_style=True, double_precision=True)
        if step % 97 == 0:
            writer.add_histogram("weights", rng.normal(size=50), step)
            writer.add_text("note", f"step {step}", step)
    writer.close()


def test_crc32c_known_value_and_vectorized_rows():
    assert crc32c(b"123456789") == 0xE3069283  # RFC 3720 check value
    rows = np.random.default_rng(0).integers(0, 256, size=(50, 37), dtype=np.uint8)
    assert crc32c_rows(rows).tolist() == [crc32c(r.tobytes()) for r in rows]


def test_torch_summarywriter_round_trips_exactly_with_restarts(tmp_path):
    torch_run(tmp_path, steps=20_000 // 3)           # crosses the 128 and 16384 step varint widths
    torch_run(tmp_path, steps=300, start=6000, seed=1)  # a restart: a second file, overlapping steps
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert_same(tmp_path)
    run = load_run(tmp_path)
    assert run.issues == ()
    assert run.signal("loss").index.max() == 6665


def test_tensorboards_own_writer_all_scalar_encodings(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    scalar_shape = tensor_shape_pb2.TensorShapeProto()
    for step in range(0, 300, 3):
        values = [
            summary_pb2.Summary.Value(tag="a/simple", simple_value=step * 0.5),
            summary_pb2.Summary.Value(tag="b/content", tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT, tensor_shape=scalar_shape,
                tensor_content=np.float32(step / 7).tobytes())),
            summary_pb2.Summary.Value(tag="c/int64", tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_INT64, tensor_shape=scalar_shape, int64_val=[-step])),
            summary_pb2.Summary.Value(tag="d/int32", tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_INT32, tensor_shape=scalar_shape, int_val=[step - 150])),
            summary_pb2.Summary.Value(tag="e/half", tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_HALF, tensor_shape=scalar_shape,
                half_val=[int(np.float16(step / 3).view(np.uint16))])),
            summary_pb2.Summary.Value(node_name="f/untagged", tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_DOUBLE, tensor_shape=scalar_shape, double_val=[step ** 0.5])),
            summary_pb2.Summary.Value(tag="g/vector", tensor=tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT, float_val=[1.0, 2.0],
                tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2)]))),
        ]
        writer.add_event(event_pb2.Event(wall_time=1e9 + step, step=step, summary=summary_pb2.Summary(value=values)))
    writer.close()
    assert_same(tmp_path)
    tags = load_run(tmp_path).tags
    assert "g/vector" not in tags and "f/untagged" in tags and len(tags) == 6


def _one_file(tmp_path):
    torch_run(tmp_path, steps=200)
    (path,) = tmp_path.glob("events.out.tfevents.*")
    return path


def test_corrupted_payload_byte_is_reported_with_offset_and_rest_kept(tmp_path):
    path = _one_file(tmp_path)
    clean, _ = read_event_file(path)
    data = bytearray(path.read_bytes())
    # find the 100th record's header offset by walking the framing
    offset = 0
    for _ in range(100):
        offset += 16 + int.from_bytes(data[offset:offset + 8], "little")
    data[offset + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    frame, issues = read_event_file(path)
    assert [(i.kind, i.offset) for i in issues] == [("data_crc", offset)]
    assert f"byte {offset:,}" in issues[0].message and str(path) in issues[0].message
    assert len(frame) == len(clean) - 1


def test_corrupted_length_costs_only_its_record(tmp_path):
    path = _one_file(tmp_path)
    clean, _ = read_event_file(path)
    data = bytearray(path.read_bytes())
    offset = 0
    for _ in range(50):
        offset += 16 + int.from_bytes(data[offset:offset + 8], "little")
    data[offset + 1] ^= 0x01
    path.write_bytes(bytes(data))
    frame, issues = read_event_file(path)
    assert issues[0].kind == "skipped" and issues[0].offset == offset
    assert "reading resumed at the next intact record" in issues[0].message and str(path) in issues[0].message
    assert issues[-1].kind == "summary" and "kept" in issues[-1].message
    # record 50 (a scalar: records 0-49 are the file_version event, step 0's 3 scalars + histogram +
    # text, then 3 per step) is lost; every record after it is read again
    assert len(frame) == len(clean) - 1
    kept = np.delete(clean["value"].to_numpy(), 3 + 14 * 3 + 2)
    np.testing.assert_array_equal(frame["value"].to_numpy(), kept)


def test_forty_corrupt_bytes_in_a_real_event_file_cost_only_the_records_they_touch(tmp_path):
    source = REAL / "tensorboard-hf-trainer" / "events.out.tfevents.1730723356.iiitd.262129.0"
    clean, _ = read_event_file(source)
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 40] = np.random.default_rng(0).integers(0, 256, 40, dtype=np.uint8).tobytes()
    path = tmp_path / source.name
    path.write_bytes(bytes(data))
    frame, issues = read_event_file(path)
    # 40 bytes touch at most two of this file's 59 records (50-500 bytes long): the rest are read
    intact = len(read_records(path).starts)
    assert len(read_records(source).starts) - 2 <= intact < len(read_records(source).starts)
    assert len(frame) >= len(clean) - 2
    rows = set(zip(clean["step"], clean["tag"].astype(str), clean["value"], strict=True))
    assert set(zip(frame["step"], frame["tag"].astype(str), frame["value"], strict=True)) <= rows
    assert {i.kind for i in issues} & {"skipped", "data_crc"}
    assert all(str(path) in i.message for i in issues)


def test_a_file_with_no_intact_record_is_refused_naming_it(tmp_path):
    path = tmp_path / "events.out.tfevents.garbage"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(BadInputError, match="no intact TFRecord") as info:
        read_event_files([path])
    assert str(path) in str(info.value)
    result = CliRunner().invoke(app, ["training", "check", str(tmp_path)])
    assert result.exit_code == 2 and str(path) in result.output and "Traceback" not in result.output


def test_truncated_final_record_of_a_crashed_run(tmp_path):
    path = _one_file(tmp_path)
    clean, _ = read_event_file(path)
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    run = load_run(tmp_path)
    assert [i.kind for i in run.issues] == ["truncated"]
    assert len(run.scalars) == len(clean) - 1
    np.testing.assert_array_equal(run.scalars["value"].to_numpy(), clean["value"].to_numpy()[:-1])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_reader(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "events.out.tfevents.fuzz"
    path.write_bytes(blob)
    try:
        frame, issues = read_event_files([path])
    except BadInputError as exc:   # no intact record at all: refused, naming the file
        assert str(path) in str(exc)
        return
    assert list(frame.columns) == ["step", "wall_time", "tag", "value"]
    assert len(frame) == 0 or issues == () or all(i.offset >= 0 for i in issues)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 5, 9]), min_size=1, max_size=6), st.integers(1, 300),
       st.lists(st.integers(0, 40), max_size=5), st.integers(0, 20))
def test_cycle_prediction_frames_exactly_like_the_sequential_walk(cycle, repeats, tail, cut):
    lengths = cycle * repeats + tail
    blob = b"".join(n.to_bytes(8, "little") + mask(crc32c(n.to_bytes(8, "little"))).to_bytes(4, "little")
                    + bytes(n) + b"\0\0\0\0" for n in lengths)
    blob = blob[:len(blob) - cut]
    starts, sizes, stop = frame_records(np.frombuffer(blob, dtype=np.uint8))
    expected, pos = [], 0
    while pos + 12 <= len(blob) and pos + 16 + int.from_bytes(blob[pos:pos + 8], "little") <= len(blob):
        expected.append(pos)
        pos += 16 + int.from_bytes(blob[pos:pos + 8], "little")
    assert starts.tolist() == expected and stop == pos
    assert sizes.tolist() == np.diff(expected + [pos]).tolist()
