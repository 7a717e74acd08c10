"""Representation lens for transformers: attention, head scores, circuits, logit lens, embeddings,
activation patching, token attribution and layer-by-layer checkpoint comparison."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "._arch": ("Architecture", "architecture"),
    ".ablation": ("ablate_heads", "ablation_effects", "repeat_loss"),
    ".attribution": ("TokenAttribution", "token_attribution"),
    ".attention": ("AttentionResult", "attention"),
    ".circuit": ("InductionCircuit", "induction_circuit"),
    ".cka": ("linear_cka",),
    ".compare": ("CheckpointComparison", "compare_checkpoints"),
    ".composition": ("composition_scores",),
    ".embeddings": ("EmbeddingMap", "embedding_map"),
    ".head_scores": ("copying_scores", "head_scores", "heads_figure"),
    ".logit_lens": ("LogitLensResult", "logit_lens"),
    ".over_training": ("head_scores_over_training", "score_curves"),
    ".patching": ("PatchingResult", "activation_patching"),
    ".probes": ("RepeatProbe", "repeat_probe"),
})
