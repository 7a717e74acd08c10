"""Streaming, tensor-by-tensor comparison of two checkpoints (safetensors, sharded indexes, torch files)."""

from fourlens.weights.checkpoint import Checkpoint, open_checkpoint
from fourlens.weights.compare import STATUSES, TENSOR_COLUMNS, WeightComparison, compare
from fourlens.weights.layers import LAYER_COLUMNS, aggregate_layers, layer_of
from fourlens.weights.stats import ChunkEngine, PairStats, Side
from fourlens.weights.tensor_info import TensorInfo

__all__ = ["LAYER_COLUMNS", "STATUSES", "TENSOR_COLUMNS", "Checkpoint", "ChunkEngine", "PairStats", "Side",
           "TensorInfo", "WeightComparison", "aggregate_layers", "compare", "layer_of", "open_checkpoint"]
