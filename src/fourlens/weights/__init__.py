"""Streaming, tensor-by-tensor comparison of two checkpoints (safetensors, sharded indexes, torch files)."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".checkpoint": ("Checkpoint", "open_checkpoint"),
    ".compare": ("STATUSES", "TENSOR_COLUMNS", "WeightComparison", "compare"),
    ".layers": ("LAYER_COLUMNS", "aggregate_layers", "layer_of"),
    ".pair_stats": ("ChunkEngine", "PairStats", "Side"),
    ".tensor_info": ("TensorInfo",),
})
