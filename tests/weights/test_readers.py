"""Readers: our header parser and memory map against the safetensors library and torch.load."""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from fourlens.errors import BadInputError
from fourlens.weights import open_checkpoint
from fourlens.weights.safetensors_file import SafetensorsFile
from tests.weights.conftest import block_state


def mixed_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    base = torch.randn(7, 5, generator=generator) * 3
    return {
        "f32": base, "f64": base.double(), "f16": base.half(), "bf16": base.bfloat16(),
        "f8_e4m3": base.to(torch.float8_e4m3fn), "f8_e5m2": base.to(torch.float8_e5m2),
        "i64": torch.arange(12, dtype=torch.int64).reshape(3, 4), "i8": torch.arange(-4, 4, dtype=torch.int8),
        "u8": torch.arange(9, dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
    }


def test_safetensors_reader_matches_the_reference_library(tmp_path: Path) -> None:
    state = mixed_state()
    path = tmp_path / "mixed.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    reference = load_file(str(path))
    reader = SafetensorsFile(path)
    assert set(reader.infos) == set(reference)
    assert reader.metadata == {"format": "pt"}
    for name, expected in reference.items():
        info = reader.infos[name]
        assert info.shape == tuple(expected.shape) and info.torch_dtype == expected.dtype
        got = reader.flat(name)
        assert got.dtype == expected.dtype
        assert torch.equal(got.view(torch.uint8), expected.reshape(-1).view(torch.uint8)), name
    reader.close()


def test_sharded_index_written_by_transformers(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=16,
                                     bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(tmp_path / "sharded", max_shard_size="30KB")
    model.save_pretrained(tmp_path / "single")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    assert len(list((tmp_path / "sharded").glob("*.safetensors"))) > 1
    with open_checkpoint(tmp_path / "sharded") as sharded, \
            open_checkpoint(tmp_path / "single" / "model.safetensors") as single:
        assert sharded.index is not None and single.index is None
        assert set(sharded) == set(single)
        for name in single:
            assert torch.equal(sharded.flat(name), single.flat(name))
    state = model.state_dict()
    with open_checkpoint(tmp_path / "single") as single:
        for name in single:
            assert torch.equal(single.flat(name), state[name].reshape(-1))


@pytest.mark.parametrize("zip_format", [True, False])
def test_torch_files_load_with_weights_only(tmp_path: Path, zip_format: bool) -> None:
    state = block_state(2)
    path = tmp_path / "model.bin"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    with open_checkpoint(path) as checkpoint:
        assert checkpoint.format == "torch"
        assert set(checkpoint) == set(state)
        assert checkpoint._readers[0].mapped is zip_format
        for name, tensor in state.items():
            assert torch.equal(checkpoint.flat(name), tensor.reshape(-1))
            checkpoint.side(name).release(0, tensor.numel())  # dropping mapped pages keeps the data
            assert torch.equal(checkpoint.flat(name), tensor.reshape(-1))


def test_training_checkpoint_uses_its_state_dict(tmp_path: Path) -> None:
    state = block_state(1)
    path = tmp_path / "last.ckpt"
    torch.save({"epoch": 3, "state_dict": state, "optimizer_states": [{"lr": 0.1}]}, path)
    with open_checkpoint(path) as checkpoint:
        assert set(checkpoint) == set(state)


@dataclass
class Hyper:  # a Python object beside the tensors: weights_only refuses it
    lr: float


def test_pickled_objects_need_trust_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"hyper": Hyper(0.1), "weight": torch.ones(3)}, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(BadInputError, match="--trust-pickle") as info:
            open_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "Hyper" in message   # what was refused, in fourlens's words only
    assert "Re-running" not in message and "weights_only" not in message and "\x1b" not in message
    assert not [w for w in caught if issubclass(w.category, UserWarning)]
    with open_checkpoint(path, trust_pickle=True) as checkpoint:
        assert list(checkpoint) == ["weight"]


def test_truncated_safetensors_names_the_file(tmp_path: Path, write_st) -> None:
    path = write_st("model.safetensors", block_state(2))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(BadInputError, match="truncated") as info:
        open_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x01\x02", b"\xff" * 8 + b"{}",
                                     (20).to_bytes(8, "little") + b"not json at all!!!!!",
                                     (2).to_bytes(8, "little") + b"[]"])
def test_garbage_safetensors_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as info:
        open_checkpoint(path)
    assert str(path) in str(info.value)


def test_truncated_torch_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(block_state(1), path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(BadInputError) as info:
        open_checkpoint(path)
    assert str(path) in str(info.value)
    assert not isinstance(info.value, pickle.UnpicklingError)


def test_missing_shard_and_missing_path(tmp_path: Path, write_st) -> None:
    write_st("ckpt/model-1.safetensors", {"a": torch.ones(2)})
    index = tmp_path / "ckpt" / "model.safetensors.index.json"
    index.write_text('{"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors"}}')
    with pytest.raises(BadInputError, match="model-2.safetensors"):
        open_checkpoint(tmp_path / "ckpt")
    with pytest.raises(BadInputError, match="does not exist"):
        open_checkpoint(tmp_path / "nowhere.safetensors")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no checkpoint files"):
        open_checkpoint(tmp_path / "empty")
