"""Property tests: any dict of tensors round-trips; any damage to a file is one BadInputError."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from fourlens.errors import BadInputError
from fourlens.weights import compare, open_checkpoint

DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.uint8, torch.bool,
          torch.float8_e4m3fn]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def state_dicts(draw) -> dict[str, torch.Tensor]:
    names = draw(st.lists(st.from_regex(r"[a-z]{1,4}(\.[0-9]{1,2})?\.[a-z]{1,3}", fullmatch=True),
                          min_size=1, max_size=5, unique=True))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    state = {}
    for name in names:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
        dtype = draw(st.sampled_from(DTYPES))
        state[name] = (torch.randn(shape, generator=generator) * 4).to(dtype)
    return state


def damage(path: Path, position: float, value: int, cut: bool) -> tuple[int, bytearray]:
    """Cut the file at `position` (a share of its length) or overwrite that byte with `value`."""
    data = bytearray(path.read_bytes())
    index = int(position * (len(data) - 1))
    if cut:
        data = data[:index]
    else:
        data[index] = value
    path.write_bytes(bytes(data))
    return index, data


@SETTINGS
@given(state=state_dicts())
def test_any_state_dict_reads_back_exactly(tmp_path: Path, state: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "x.safetensors"
    save_file(state, str(path))
    reference = load_file(str(path))
    with open_checkpoint(path) as checkpoint:
        assert set(checkpoint) == set(reference)
        for name, tensor in reference.items():
            assert torch.equal(checkpoint.flat(name).view(torch.uint8), tensor.reshape(-1).view(torch.uint8))
    result = compare(path, path)
    assert (result.table["rel_change"].fillna(0) == 0).all()


@SETTINGS
@given(position=st.floats(0, 1), value=st.integers(0, 255), cut=st.booleans())
def test_damaged_files_fail_with_one_clear_error(tmp_path: Path, position: float, value: int, cut: bool) -> None:
    path = tmp_path / "x.safetensors"
    save_file({"a.0.w": torch.randn(6, 4), "a.1.w": torch.randn(3).bfloat16()}, str(path))
    header_end = 8 + int.from_bytes(path.read_bytes()[:8], "little")
    index, data = damage(path, position, value, cut)
    try:
        compare(path, path)
    except BadInputError as error:
        assert str(path) in str(error)
    else:
        # Only damage to the data section (or a byte rewritten to itself) leaves a readable file.
        assert not cut or index >= len(data) and index >= header_end


@SETTINGS
@given(entry=st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3),
                       st.fixed_dictionaries({"dtype": st.one_of(st.text(max_size=4), st.lists(st.text(), max_size=1),
                                                                 st.just("F32")),
                                              "shape": st.one_of(st.lists(st.integers(-2, 3), max_size=2),
                                                                 st.text(max_size=2)),
                                              "data_offsets": st.one_of(st.lists(st.integers(-4, 40), max_size=3),
                                                                        st.just("x"))})))
def test_arbitrary_header_entries_fail_cleanly(tmp_path: Path, entry) -> None:
    header = json.dumps({"w": entry}).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(40))
    try:
        with open_checkpoint(path) as checkpoint:
            list(checkpoint)
    except BadInputError as error:
        assert str(path) in str(error)


@SETTINGS
@given(position=st.floats(0, 1), value=st.integers(0, 255), cut=st.booleans())
def test_damaged_torch_files_fail_with_one_clear_error(tmp_path: Path, position: float, value: int,
                                                       cut: bool) -> None:
    path = tmp_path / "x.pt"
    torch.save({"a.0.w": torch.randn(6, 4), "a.1.w": torch.randn(3).bfloat16()}, path)
    damage(path, position, value, cut)
    try:
        compare(path, path)
    except BadInputError as error:
        assert str(path) in str(error)
