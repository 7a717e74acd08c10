"""The data lens: what did the model see? Corpus profiles, their differences, and contamination."""

from fourlens.data.classes import TOKEN_CLASSES, token_class
from fourlens.data.corpus import Corpus, as_corpus, iter_documents, url_domain
from fourlens.data.engines import EngineConfig, map_shards
from fourlens.data.profile import Profile, TokenizerMismatchError
from fourlens.data.profiling import profile
from fourlens.data.tokenize import HFTokenizer, TokenizerIdentity, WordTokenizer, load_tokenizer, minilm_tokenizer_path

__all__ = ["TOKEN_CLASSES", "Corpus", "EngineConfig", "HFTokenizer", "Profile", "TokenizerIdentity",
           "TokenizerMismatchError", "WordTokenizer", "as_corpus", "iter_documents", "load_tokenizer",
           "map_shards", "minilm_tokenizer_path", "profile", "token_class", "url_domain"]
