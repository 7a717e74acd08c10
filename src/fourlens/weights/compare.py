"""`compare(path_a, path_b)`: two checkpoints, tensor by tensor, in bounded memory.

Each tensor present in both checkpoints with the same shape is streamed in chunks (see
`fourlens.weights.stats`): relative change ||b - a|| / ||a||, norms, cosine, max |b - a| and NaN/Inf
counts (one compiled pass per chunk when numba is installed, else torch's float32 SIMD passes, where
the values embed exactly in float32; float64 otherwise; chunk totals in float64). Tensors present in
one checkpoint only, or with different shapes, get their norms and NaN/Inf counts alone. The headline
relative change and the layer table cover floating-point tensors (the weights); integer and bool
tensors (position ids, attention masks, step counters) are reported apart, equal or changed. Peak memory is
a few chunks per worker plus what `torch.load` keeps for non-mappable legacy .bin files; it does not
grow with the checkpoint or the largest tensor.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from fourlens.report.jsonsafe import json_safe
from fourlens.weights import fused
from fourlens.weights.checkpoint import Checkpoint, PathLike, open_checkpoint
from fourlens.weights.findings import comparison_findings
from fourlens.weights.layers import aggregate_layers, layer_function
from fourlens.weights.stats import ChunkEngine
from fourlens.weights.tensor_info import TensorInfo

fused.warm()  # numba's import and runtime start once, at import like torch's, not in the first compare

TENSOR_COLUMNS = ["name", "layer", "status", "shape", "shape_b", "dtype", "dtype_b", "numel", "norm_a", "norm_b",
                  "diff_norm", "rel_change", "cosine", "max_abs_diff", "nonfinite_a", "nonfinite_b"]
STATUSES = ("ok", "dtype_changed", "shape_mismatch", "missing_in_b", "extra_in_b")
Progress = Callable[[int, int, str], None]  # (bytes done, bytes total, tensor name)


@dataclass(frozen=True)
class WeightComparison:
    """The result of `compare`.

    `table`: one row per tensor name in either checkpoint (`TENSOR_COLUMNS`; `status` is one of
    `STATUSES`; `shape`/`dtype` are checkpoint a's, or b's for tensors only in b). `layers`: one row
    per layer (`fourlens.weights.layers.LAYER_COLUMNS`). `a`, `b`: what was compared.
    """

    a: str
    b: str
    table: pd.DataFrame
    layers: pd.DataFrame
    format_a: str = ""
    format_b: str = ""
    bytes_read: int = 0
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def rows(self, status: str) -> pd.DataFrame:
        return self.table[self.table["status"] == status]

    @property
    def missing(self) -> list[str]:
        """Tensor names in a but not in b."""
        return self.rows("missing_in_b")["name"].tolist()

    @property
    def extra(self) -> list[str]:
        """Tensor names in b but not in a."""
        return self.rows("extra_in_b")["name"].tolist()

    @property
    def shape_mismatches(self) -> pd.DataFrame:
        return self.rows("shape_mismatch")

    @property
    def dtype_changes(self) -> pd.DataFrame:
        return self.rows("dtype_changed")

    @property
    def paired(self) -> pd.DataFrame:
        """Floating-point tensors compared element by element (same name and shape): the weights.
        Integer and bool tensors (position ids, masks, counters) are in `nonfloat`."""
        both = self.table[self.table["status"].isin(["ok", "dtype_changed"])]
        return both[_floating(both)]

    @property
    def nonfloat(self) -> pd.DataFrame:
        """Integer and bool tensors present in both with the same shape, with `changed` (any element
        differs). They are buffers, not weights: kept out of the relative change and the layers."""
        both = self.table[self.table["status"].isin(["ok", "dtype_changed"])]
        rows = both[~_floating(both)]
        changed = (rows["diff_norm"].fillna(0) > 0) | (rows["max_abs_diff"].fillna(0) > 0) | (
            rows["nonfinite_a"] != rows["nonfinite_b"]) | (rows["dtype"] != rows["dtype_b"])
        return rows.assign(changed=changed.to_numpy(bool))

    @property
    def global_rel_change(self) -> float:
        """||b - a|| / ||a|| over every paired floating-point tensor taken as one vector."""
        paired = self.paired
        sum_aa = float((paired["norm_a"] ** 2).sum())
        sum_dd = float((paired["diff_norm"] ** 2).sum())
        if sum_aa > 0:
            return math.sqrt(sum_dd / sum_aa)
        return 0.0 if sum_dd == 0 else math.inf

    def summary(self) -> dict[str, Any]:
        return {
            "a": self.a, "b": self.b, "format_a": self.format_a, "format_b": self.format_b,
            "n_tensors_a": int((self.table["status"] != "extra_in_b").sum()),
            "n_tensors_b": int((self.table["status"] != "missing_in_b").sum()),
            "n_paired": len(self.paired), "n_missing_in_b": len(self.missing), "n_extra_in_b": len(self.extra),
            "n_nonfloat": len(self.nonfloat),
            "nonfloat_changed": self.nonfloat.loc[self.nonfloat["changed"], "name"].tolist(),
            "n_shape_mismatches": len(self.shape_mismatches), "n_dtype_changes": len(self.dtype_changes),
            "nonfinite_a": int(self.table["nonfinite_a"].sum()), "nonfinite_b": int(self.table["nonfinite_b"].sum()),
            "global_rel_change": self.global_rel_change, "bytes_read": self.bytes_read, "seconds": self.seconds,
        }

    def findings(self, **thresholds: float) -> list:
        """The comparison as fourlens `Finding`s (lens "representation"); see `fourlens.weights.findings`."""
        return comparison_findings(self, **thresholds)

    def top(self, n: int = 10) -> pd.DataFrame:
        """The `n` paired tensors with the largest finite relative change, then those whose baseline
        is all zeros (relative change inf, e.g. biases initialised to zero)."""
        paired = self.paired
        finite = np.isfinite(paired["rel_change"].to_numpy(float))
        ranked = paired[finite].sort_values("rel_change", ascending=False, kind="stable")
        return pd.concat([ranked, paired[~finite]]).head(n)

    def to_dict(self) -> dict[str, Any]:
        tensors = self.table.assign(shape=self.table["shape"].map(_listify),
                                    shape_b=self.table["shape_b"].map(_listify))
        return json_safe({"summary": self.summary(), "metadata": self.metadata,
                          "tensors": tensors.to_dict(orient="records"),
                          "layers": self.layers.to_dict(orient="records")}, "WeightComparison")

    def _repr_html_(self) -> str:
        s = self.summary()
        head = (f"<p><b>{escape(self.a)}</b> vs <b>{escape(self.b)}</b>: {s['n_paired']} tensors compared, "
                f"relative change {s['global_rel_change']:.4g}; {s['n_missing_in_b']} missing, "
                f"{s['n_extra_in_b']} extra, {s['n_shape_mismatches']} shape and {s['n_dtype_changes']} dtype "
                f"changes, {s['nonfinite_b']} NaN/Inf in b; integer/bool tensors: {s['n_nonfloat']} "
                f"({len(s['nonfloat_changed'])} changed).</p>")
        return head + self.layers.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def compare(path_a: PathLike | Sequence[PathLike], path_b: PathLike | Sequence[PathLike], *,
            trust_pickle: bool = False, layer_pattern: str | Callable[[str], str] | None = None,
            chunk: int | None = None, workers: int | None = None, precision: str = "auto",
            io: str = "pread", kernel: str = "auto", progress: Progress | None = None
            ) -> WeightComparison:
    """Compare two checkpoints tensor by tensor.

    `path_a`/`path_b`: a .safetensors file, a sharded `*.index.json`, a .bin/.pt/.pth/.ckpt file, a
    directory holding them, or a list of files. PyTorch files are read with
    `torch.load(weights_only=True)`; `trust_pickle=True` allows a full unpickle (trusted files only).
    `layer_pattern`: how names map to layers (default `fourlens.weights.layers.layer_of`; a regex
    whose first group names the layer, or a callable). `chunk`: elements per chunk (default: 1M
    with the compiled kernels, 256K with torch's passes); `workers`:
    threads (default: min(4, CPUs)); `precision`: "auto" (default: float32 arithmetic for 8/16/32-bit
    weights, relative error ~1e-6; float64 for float64 and 32/64-bit integer tensors) or "float64"
    (every chunk in float64, 2-4x slower; see `fourlens.weights.stats`). `io`: how safetensors data is read,
    "pread" (default: into a reused buffer) or "mmap" (through the memory map, pages handed back after
    each chunk); both keep memory bounded (see benchmarks/README.md). `kernel`: "auto" (default: one
    pass per chunk with numba's compiled kernels when numba is installed, `fourlens.weights.fused`),
    "fused" (require them) or "torch" (torch's passes). `progress(bytes_done, bytes_total,
    name)` is called after each tensor. Raises `BadInputError` naming the file when a checkpoint is
    missing, corrupt or truncated.
    """
    started = time.perf_counter()
    to_layer = layer_function(layer_pattern)
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    with open_checkpoint(path_a, trust_pickle) as a, open_checkpoint(path_b, trust_pickle) as b, \
            ChunkEngine(chunk, workers, precision, kernel) as engine:
        names = list(a) + [name for name in b if name not in a]
        total = sum(info.nbytes for info in a.infos.values()) + sum(info.nbytes for info in b.infos.values())
        done = 0
        rows = []
        for name in names:
            info_a, info_b = a.infos.get(name), b.infos.get(name)
            rows.append({"name": name, "layer": to_layer(name),
                         **_compare_one(engine, a, b, name, info_a, info_b, io)})
            done += (info_a.nbytes if info_a else 0) + (info_b.nbytes if info_b else 0)
            if progress is not None:
                progress(done, total, name)
        table = pd.DataFrame(rows, columns=TENSOR_COLUMNS)
        # layers aggregate the weights: integer/bool buffers (BERT's position_ids) are reported apart
        layers = aggregate_layers(table[_floating(table)])
        return WeightComparison(a=a.label, b=b.label, table=table, layers=layers,
                                format_a=a.format, format_b=b.format, bytes_read=total,
                                seconds=time.perf_counter() - started,
                                metadata={"a": a.metadata, "b": b.metadata})


def _compare_one(engine: ChunkEngine, a: Checkpoint, b: Checkpoint, name: str,
                 info_a: TensorInfo | None, info_b: TensorInfo | None, io: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "shape": info_a.shape if info_a else info_b.shape, "shape_b": info_b.shape if info_b else None,
        "dtype": info_a.dtype if info_a else info_b.dtype, "dtype_b": info_b.dtype if info_b else None,
        "numel": info_a.numel if info_a else info_b.numel,
        "norm_a": np.nan, "norm_b": np.nan, "diff_norm": np.nan, "rel_change": np.nan, "cosine": np.nan,
        "max_abs_diff": np.nan, "nonfinite_a": 0, "nonfinite_b": 0,
    }
    if info_a is not None and info_b is not None and info_a.shape == info_b.shape:
        stats = engine.pair(a.side(name, io), b.side(name, io))
        row.update(status="ok" if info_a.dtype == info_b.dtype else "dtype_changed", norm_a=stats.norm_a,
                   norm_b=stats.norm_b, diff_norm=stats.diff_norm, rel_change=stats.rel_change,
                   cosine=stats.cosine, max_abs_diff=stats.max_abs_diff, nonfinite_a=stats.nonfinite_a,
                   nonfinite_b=stats.nonfinite_b)
        return row
    row["status"] = "shape_mismatch" if info_a and info_b else ("missing_in_b" if info_a else "extra_in_b")
    if info_a is not None:
        sum_sq, row["nonfinite_a"] = engine.single(a.side(name, io))
        row["norm_a"] = math.sqrt(sum_sq)
    if info_b is not None:
        sum_sq, row["nonfinite_b"] = engine.single(b.side(name, io))
        row["norm_b"] = math.sqrt(sum_sq)
    return row


def is_float_code(code: object) -> bool:
    """F64, F32, F16, BF16, F8_*: a floating-point dtype code (see tensor_info.dtype_code)."""
    return isinstance(code, str) and code.startswith(("F", "BF"))


def _floating(rows: pd.DataFrame) -> pd.Series:
    """Rows whose tensor is floating point in every checkpoint that has it."""
    a = rows["dtype"].map(is_float_code)
    b = rows["dtype_b"].map(lambda code: code is None or (isinstance(code, float) and math.isnan(code))
                            or is_float_code(code))
    return (a & b).astype(bool)


def _listify(shape: object) -> object:
    return list(shape) if isinstance(shape, tuple) else shape
