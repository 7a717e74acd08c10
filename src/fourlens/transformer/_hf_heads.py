"""Which Hugging Face model class loads a folder: the head named in config.json, or the one asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from fourlens.errors import BadInputError

Head = Literal["auto", "base", "causal-lm", "masked-lm", "seq2seq-lm"]


def hf_head_class(path: Path, head: Head, transformers: Any) -> Any:
    """The Auto class for `head` ("auto": from the architecture named in `path`/config.json). `transformers`:
    the module, imported by the caller (an optional extra)."""
    if head == "auto":
        names = json.loads((path / "config.json").read_text()).get("architectures") or []
        name = names[0] if names else ""
        head = "causal-lm" if "CausalLM" in name or "LMHead" in name else "masked-lm" if "MaskedLM" in name \
            else "seq2seq-lm" if "ConditionalGeneration" in name or "Seq2SeqLM" in name else "base"
    cls = {"base": transformers.AutoModel, "causal-lm": transformers.AutoModelForCausalLM,
           "masked-lm": transformers.AutoModelForMaskedLM, "seq2seq-lm": transformers.AutoModelForSeq2SeqLM
           }.get(head)
    if cls is None:
        raise BadInputError(f"head must be auto, base, causal-lm, masked-lm or seq2seq-lm; got {head!r}")
    return cls
