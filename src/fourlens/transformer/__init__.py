"""Representation lens for transformers: attention, head scores, circuits, logit lens, embeddings,
activation patching and layer-by-layer checkpoint comparison (issue 5)."""

from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer.ablation import ablate_heads, ablation_effects, repeat_loss
from fourlens.transformer.attention import AttentionResult, attention
from fourlens.transformer.circuit import InductionCircuit, induction_circuit
from fourlens.transformer.cka import linear_cka
from fourlens.transformer.compare import CheckpointComparison, compare_checkpoints
from fourlens.transformer.composition import composition_scores
from fourlens.transformer.embeddings import EmbeddingMap, embedding_map
from fourlens.transformer.head_scores import copying_scores, head_scores, heads_figure
from fourlens.transformer.logit_lens import LogitLensResult, logit_lens
from fourlens.transformer.over_training import head_scores_over_training, score_curves
from fourlens.transformer.patching import PatchingResult, activation_patching
from fourlens.transformer.probes import RepeatProbe, repeat_probe

__all__ = ["Architecture", "AttentionResult", "CheckpointComparison", "EmbeddingMap", "InductionCircuit",
           "LogitLensResult", "PatchingResult", "RepeatProbe", "ablate_heads", "ablation_effects",
           "activation_patching", "architecture", "attention", "compare_checkpoints", "composition_scores",
           "copying_scores", "embedding_map", "head_scores", "head_scores_over_training", "heads_figure",
           "induction_circuit", "linear_cka", "logit_lens", "repeat_loss", "repeat_probe", "score_curves"]
