"""The data lens: what did the model see? Corpus profiles, their differences, and contamination."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".classes": ("TOKEN_CLASSES", "token_class"),
    ".contamination": ("contamination",),
    ".corpus": ("Corpus", "as_corpus", "iter_documents", "url_domain"),
    ".diff": ("ProfileDiff", "compare_profiles", "diff", "diff_figures"),
    ".engines": ("EngineConfig", "map_shards"),
    ".evalsets": ("load_eval_sets",),
    ".corpus_profile": ("Profile", "TokenizerMismatchError"),
    ".build_profile": ("profile",),
    ".contamination_report": ("ContaminationReport",),
    ".tokenize": ("HFTokenizer", "TokenizerIdentity", "WordTokenizer", "load_tokenizer", "minilm_tokenizer_path"),
})
