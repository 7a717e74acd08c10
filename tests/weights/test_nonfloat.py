"""The headline change and the layer table cover the weights (float tensors); integer and bool buffers
(BERT's int64 position_ids, masks) are reported apart as equal or changed."""

from __future__ import annotations

import math

import numpy as np
from safetensors.numpy import save_file

from fourlens.weights import compare


def test_fp16_copy_headline_counts_float_tensors_only(tmp_path):
    rng = np.random.default_rng(0)
    weights = {f"encoder.layer.{k}.attention.query.weight": rng.normal(0, 0.05, (64, 64)).astype(np.float32)
               for k in range(3)}
    weights["embeddings.word_embeddings.weight"] = rng.normal(0, 0.05, (500, 64)).astype(np.float32)
    buffers = {"embeddings.position_ids": np.arange(512, dtype=np.int64)[None, :],
               "encoder.layer.0.attention.mask": np.ones((8, 8), dtype=bool)}
    save_file({**weights, **buffers}, str(tmp_path / "a.safetensors"))
    half = {name: value.astype(np.float16) for name, value in weights.items()}
    changed_mask = buffers["encoder.layer.0.attention.mask"].copy()
    changed_mask[0, 0] = False
    save_file({**half, "embeddings.position_ids": buffers["embeddings.position_ids"],
               "encoder.layer.0.attention.mask": changed_mask}, str(tmp_path / "b.safetensors"))

    result = compare(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    # independent: ||b - a|| / ||a|| over the float tensors, in float64
    diff = sum(float(np.sum((half[n].astype(np.float64) - w.astype(np.float64)) ** 2)) for n, w in weights.items())
    norm = sum(float(np.sum(w.astype(np.float64) ** 2)) for w in weights.values())
    assert math.isclose(result.global_rel_change, math.sqrt(diff / norm), rel_tol=1e-5)
    assert 1e-5 < result.global_rel_change < 1e-3     # fp16 rounding, not diluted by the 512 position ids
    assert set(result.paired["name"]) == set(weights)
    summary = result.summary()
    assert summary["n_nonfloat"] == 2 and summary["nonfloat_changed"] == ["encoder.layer.0.attention.mask"]
    nonfloat = result.nonfloat.set_index("name")["changed"]
    assert not nonfloat["embeddings.position_ids"] and nonfloat["encoder.layer.0.attention.mask"]
    # the layers are the weights': no layer made of a buffer, and no buffer inside a layer's numbers
    assert "embeddings" not in set(result.layers["layer"])   # position_ids alone would have been this layer
    assert result.layers.set_index("layer").loc["encoder.layer.0", "n_tensors"] == 1
    assert "position_ids" not in result.top(20)["name"].str.cat()
