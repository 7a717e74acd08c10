"""When two findings are about the same thing: subject matching across lenses.

A data finding names a domain ("math", "github.com") or a token class ("digits"), a behavior finding a
task ("gsm8k", "hendrycks_math_algebra") or a safety suite. `related(a, b)` says whether they are about
the same ability, by three rules, in order:

1. the same name, or a shared name token ("math" and "hendrycks_math"; tokens are the lowercase runs of
   letters and digits, minus generic words such as "test" or "eval");
2. a declared link: `[options.triage] links = {math = ["gsm8k", "word_problems"]}` in fourlens.toml (keys
   and values compared case-insensitively, values may be globs such as "mmlu_*");
3. a shared concept of the built-in table below: well-known benchmark, domain and token-class names per
   ability (both "gsm8k" and "arithmetic" belong to "math").

The concept table also says which evals a data change is likely to move (`concept_effect`), so the
data lens's advice and triage's links come from one place.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

# concept -> (names that belong to it, what a change of its data moves)
CONCEPTS: dict[str, tuple[frozenset[str], str]] = {
    "math": (frozenset({
        "math", "maths", "mathematics", "mathematical", "arithmetic", "algebra", "geometry", "calculus",
        "gsm8k", "gsm", "mgsm", "asdiv", "svamp", "mathqa", "minerva", "aqua", "mawps", "theorem", "proof",
        "latex", "arxiv", "numeric", "numbers", "digits", "competition_math", "word_problems", "aime", "amc",
        "arith", "multiarith", "addsub", "singleeq", "singleop", "wordprob", "word_problem"}),
        "math benchmarks (GSM8K, MATH) and step-by-step reasoning"),
    "code": (frozenset({
        "code", "coding", "programming", "python", "github", "stackoverflow", "stackexchange", "software",
        "humaneval", "mbpp", "apps", "ds1000", "leetcode", "codecontests", "java", "javascript", "cpp", "rust",
        "sql", "whitespace", "livecodebench", "bigcodebench", "starcoder", "starcoderdata", "the_stack", "stack",
        "codeparrot", "codesearchnet", "computer", "computer_science", "computing", "cs"}),
        "coding benchmarks (HumanEval, MBPP) and code completion"),
    "knowledge": (frozenset({
        "wiki", "wikipedia", "books", "book", "encyclopedia", "news", "reading", "prose", "essay", "mmlu",
        "triviaqa", "naturalqs", "nq", "squad", "race", "boolq", "openbookqa", "lambada", "knowledge",
        "comprehension", "drop", "webqs"}),
        "knowledge and reading comprehension (MMLU, TriviaQA, reading tasks)"),
    "commonsense": (frozenset({
        "hellaswag", "piqa", "winogrande", "siqa", "commonsense", "commonsenseqa", "csqa", "copa", "storycloze"}),
        "commonsense benchmarks (HellaSwag, PIQA, WinoGrande)"),
    "safety": (frozenset({
        "safety", "safe", "refusal", "refusals", "refuse", "harmless", "harmlessness", "redteam", "red_team",
        "jailbreak", "jailbreaks", "harmful", "harm", "harmbench", "jailbreakbench", "strongreject",
        "advbench", "toxicity", "toxic", "realtoxicityprompts", "alignment", "xstest", "wildguard",
        "wildjailbreak", "hh", "harmfulqa"}),
        "refusals, jailbreak and attack success rates"),
    "multilingual": (frozenset({
        "multilingual", "translation", "non_latin", "non_english", "xnli", "flores", "wmt", "belebele", "xcopa",
        "xstorycloze", "zh", "ru", "de", "fr", "ja", "ar", "es", "ko", "hi", "mc4", "oscar", "cc100"}),
        "multilingual benchmarks and non-English prompts"),
    "chat": (frozenset({
        "chat", "dialogue", "dialog", "conversation", "conversations", "instruct", "instructions",
        "instruction", "sft", "special", "end_of_turn", "eot", "eos", "template", "ifeval", "mtbench",
        "alpacaeval", "ultrachat", "sharegpt", "oasst", "openassistant", "dolly", "alpaca", "tulu", "lmsys"}),
        "chat-template handling, stopping at the end of a turn (output length), instruction following"),
    "science": (frozenset({
        "science", "scientific", "sciq", "gpqa", "arc", "arc_challenge", "arc_easy", "physics", "chemistry",
        "biology", "pubmed", "medical", "medqa", "medmcqa", "pubmedqa", "legal", "law", "legalbench", "health"}),
        "domain QA benchmarks (science, medical, legal)"),
    "social": (frozenset({"social", "reddit", "twitter", "forum", "comments"}),
               "conversational tone, toxicity and jailbreak rates"),
}
# Name tokens too generic to link two subjects on their own.
GENERIC_TOKENS = frozenset({"the", "and", "of", "test", "tests", "eval", "evals", "evaluation", "val", "valid",
                            "train", "data", "dataset", "set", "task", "tasks", "suite", "bench", "benchmark",
                            "v1", "v2", "v3", "en", "none", "all", "score", "acc", "main", "default", "mc",
                            "gen", "cot", "chat_template", "zeroshot", "fewshot", "subset"})


def name_tokens(name: str) -> set[str]:
    """Lowercase alphanumeric runs of a name, and the whole name ("hendrycks_math" -> {"hendrycks",
    "math", "hendrycks_math"}), minus generic words."""
    lower = name.lower().strip()
    tokens = set(re.findall(r"[a-z0-9]+", lower))
    if lower:
        tokens.add(lower)
    return {t for t in tokens if t not in GENERIC_TOKENS and not t.isdigit()}


def concepts(name: str) -> set[str]:
    """The built-in concepts a name belongs to (by any of its tokens)."""
    tokens = name_tokens(name)
    return {concept for concept, (names, _) in CONCEPTS.items() if tokens & names}


def concept_effect(name: str) -> str | None:
    """What a change in the data of `name` (a domain or token class) is likely to move, or None."""
    found = [concept for concept in CONCEPTS if concept in concepts(name)]
    return CONCEPTS[found[0]][1] if found else None


def _declared(a: str, b: str, links: Mapping[str, Iterable[str]]) -> bool:
    for key, values in links.items():
        names = [str(key), *([values] if isinstance(values, str) else [str(v) for v in values])]
        hits_a = any(fnmatch.fnmatch(a.lower(), n.lower()) for n in names)
        hits_b = any(fnmatch.fnmatch(b.lower(), n.lower()) for n in names)
        if hits_a and hits_b:
            return True
    return False


def relation(a: str, b: str, links: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """How two subjects are related: "same", "declared", "name", "concept", or None when they are not."""
    if not a or not b:
        return None
    if a.lower() == b.lower():
        return "same"
    if links and _declared(a, b, links):
        return "declared"
    if name_tokens(a) & name_tokens(b):
        return "name"
    if concepts(a) & concepts(b):
        return "concept"
    return None


def related(a: str, b: str, links: Mapping[str, Iterable[str]] | None = None) -> bool:
    return relation(a, b, links) is not None
