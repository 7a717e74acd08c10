"""The data lens: what did the model see? Corpus profiles, their differences, and contamination."""

from fourlens.data.classes import TOKEN_CLASSES, token_class
from fourlens.data.contamination import contamination
from fourlens.data.corpus import Corpus, as_corpus, iter_documents, url_domain
from fourlens.data.diff import ProfileDiff, compare_profiles, diff, diff_figures
from fourlens.data.engines import EngineConfig, map_shards
from fourlens.data.evalsets import load_eval_sets
from fourlens.data.profile import Profile, TokenizerMismatchError
from fourlens.data.profiling import profile
from fourlens.data.report import ContaminationReport
from fourlens.data.tokenize import HFTokenizer, TokenizerIdentity, WordTokenizer, load_tokenizer, minilm_tokenizer_path

__all__ = ["TOKEN_CLASSES", "ContaminationReport", "Corpus", "EngineConfig", "HFTokenizer", "Profile", "ProfileDiff",
           "TokenizerIdentity", "TokenizerMismatchError", "WordTokenizer", "as_corpus", "compare_profiles",
           "contamination", "diff", "diff_figures", "iter_documents", "load_eval_sets", "load_tokenizer",
           "map_shards", "minilm_tokenizer_path", "profile", "token_class", "url_domain"]
