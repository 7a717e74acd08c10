"""What a checkpoint says about one tensor before any of its data is read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class TensorInfo:
    """Name, dtype (the file's code, e.g. "BF16"), shape and where the bytes are.

    `offset` is relative to the start of the file's data section (safetensors) or 0 when the tensor
    comes from torch.load; `file` is the file that holds it (a shard for sharded checkpoints).
    """

    name: str
    dtype: str
    torch_dtype: torch.dtype
    shape: tuple[int, ...]
    numel: int
    itemsize: int
    offset: int
    file: Path

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize


# torch dtype -> the safetensors code used in tables, so both formats report dtypes alike.
_CODES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}
for _code, _name in (("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2"), ("U16", "uint16"),
                     ("U32", "uint32"), ("U64", "uint64"), ("F8_E8M0", "float8_e8m0fnu")):
    if hasattr(torch, _name):
        _CODES[getattr(torch, _name)] = _code


# safetensors dtype code -> torch dtype; codes this torch build cannot represent are absent.
DTYPES: dict[str, torch.dtype] = {code: dtype for dtype, code in _CODES.items()}


def dtype_code(dtype: torch.dtype) -> str:
    """"BF16" for torch.bfloat16 and so on; other dtypes by their torch name."""
    return _CODES.get(dtype, str(dtype).removeprefix("torch."))
