"""Token classes: which share of the tokens are digits, math, code, non-Latin script, whitespace, special.

A token's class is decided on its surface form after removing tokenizer markers (WordPiece "##",
SentencePiece "▁", byte-level BPE "Ġ"/"Ċ"/"ĉ" for space/newline/tab), first rule that applies wins:

1. special     the tokenizer's special tokens, and [..] / <..> / <|..|> control tokens;
2. whitespace  nothing but whitespace (e.g. "Ċ", "▁", "\\n\\n");
3. digits      only decimal digits ("2024", "##7");
4. math        a Unicode math symbol (category Sm: + < = > | ~ ± × ÷ ∑ ∫ ...), ^, $ or a LaTeX command
               ("\\frac", or the command words frac, sqrt, mathbb, ... the word tokenizer splits off);
5. code        code punctuation ({ } [ ] ; ` # @ _ and :: -> => ==) or a keyword that is rare in prose
               (def, elif, lambda, self, None, const, println, ...);
6. non_latin   a letter from a script other than Latin (Cyrillic, CJK, Arabic, Devanagari, ...);
7. other       everything else (Latin words, prose punctuation).

These are heuristics on the token's form, the same for both profiles of a diff, so their *shifts* are
meaningful even where one token is ambiguous ("=" in code counts as math).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

TOKEN_CLASSES = ("digits", "math", "code", "non_latin", "whitespace", "special", "other")
MARKERS = {"Ġ": " ", "Ċ": "\n", "ĉ": "\t", "▁": " "}
LATEX_WORDS = {"frac", "sqrt", "mathbb", "mathbf", "mathrm", "mathcal", "cdot", "cdots", "ldots", "leq", "geq",
               "neq", "infty", "partial", "nabla", "int", "sum", "prod", "lim", "alpha", "beta", "gamma",
               "delta", "epsilon", "theta", "sigma", "omega", "pi", "times", "left", "right",
               "begin{equation}", "textbf", "hat", "bar", "vec", "dfrac", "tfrac", "binom", "pmod", "equiv",
               "approx", "subseteq", "mathbb{R}"}
CODE_KEYWORDS = {"def", "elif", "lambda", "self", "None", "True", "False", "nullptr", "const", "var", "let",
                 "func", "fn", "void", "struct", "impl", "println", "printf", "cout", "endl", "std", "namespace",
                 "typedef", "enum", "async", "await", "yield", "isinstance", "len", "range", "args", "kwargs",
                 "__init__", "__name__", "__main__", "bool", "int32", "int64", "usize", "dict", "tuple", "str",
                 "println!", "elseif", "endif", "ifdef", "include", "npm", "pip", "sudo", "argv", "malloc",
                 "return", "import", "foreach", "instanceof", "typeof", "undefined", "null", "this"}
CODE_PUNCT = set("{}[];`#@_") | {"::", "->", "=>", "==", "!=", "&&", "||", "++", "--", "+=", "-=", "**", "//"}
CONTROL = re.compile(r"^(\[[A-Za-z_]+\]|<\|?[^<>\s]{1,40}\|?>)$")


def token_class(token: str, special: frozenset[str] | set[str] = frozenset()) -> str:
    """The class of one token string (see the module docstring for the rules)."""
    if token in special or CONTROL.match(token):
        return "special"
    core = token[2:] if token.startswith("##") and len(token) > 2 else token
    core = "".join(MARKERS.get(ch, ch) for ch in core)
    if not core.strip():
        return "whitespace"
    core = core.strip()
    if core.isdecimal() and core.isascii():
        return "digits"
    if core.startswith("\\") and core[1:].isalpha() or core in LATEX_WORDS or core in {"^", "$", "$$"}:
        return "math"
    if any(unicodedata.category(ch) == "Sm" for ch in core) and core not in CODE_PUNCT:
        return "math"
    if core in CODE_PUNCT or core in CODE_KEYWORDS or any(ch in "{};`" for ch in core):
        return "code"
    if core.isdecimal():
        return "non_latin"  # digits of another script
    for ch in core:
        if ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN"):
            return "non_latin"
    return "other"


def class_counts(token_counts: Mapping[str, int] | Iterable[tuple[str, int]],
                 special: Iterable[str] = ()) -> dict[str, int]:
    """Token counts summed per class; every class present (zero when absent)."""
    special_set = frozenset(special)
    totals = dict.fromkeys(TOKEN_CLASSES, 0)
    items = token_counts.items() if isinstance(token_counts, Mapping) else token_counts
    for token, count in items:
        totals[token_class(token, special_set)] += int(count)
    return totals


def _byte_alphabet() -> dict[str, int]:
    """Byte-level BPE's printable stand-in for each byte (GPT-2's table: printable Latin-1 bytes stand for
    themselves, the others take the characters from U+0100 on, in byte order), inverted: char -> byte."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in kept:
            table[chr(byte)] = byte
        else:
            table[chr(256 + extra)] = byte
            extra += 1
    return table


BYTE_ALPHABET = _byte_alphabet()


def display_token(token: str) -> str:
    """A vocabulary entry as the text it stands for: byte-level BPE symbols decoded to their bytes
    ("Ġ=" -> " =", "Ċ" -> newline, "Ã©" -> "é"), SentencePiece "▁" as a space, WordPiece "##" dropped.
    An entry that does not decode as byte-level BPE (not valid UTF-8 that way) keeps its characters."""
    if token.startswith("##") and len(token) > 2:
        return token[2:]
    if CONTROL.match(token):
        return token
    if all(ch in BYTE_ALPHABET for ch in token):
        try:
            return bytes(BYTE_ALPHABET[ch] for ch in token).decode("utf-8")
        except UnicodeDecodeError:
            pass
    return token.replace("▁", " ")
