"""The TinyLM's tokenizer: one token per ASCII character."""

from __future__ import annotations

import torch

from fourlens.errors import BadInputError


class AsciiTokenizer:
    """The TinyLM's tokenizer: one token per ASCII character (vocab 128), with the small slice of the
    Hugging Face tokenizer interface the transformer lens uses (`__call__`, `convert_ids_to_tokens`,
    `decode`). The model was trained on random tokens, so any text is "random" to it; repeats in the
    text are what its induction heads pick up."""

    vocab_size = 128
    all_special_ids: list[int] = []
    pad_token_id = 0

    def encode(self, text: str) -> list[int]:
        bad = sorted({c for c in text if ord(c) >= self.vocab_size})
        if bad:
            raise BadInputError(f"the TinyLM tokenizer reads ASCII only; the text has {''.join(bad[:5])!r}")
        return [ord(c) for c in text]

    def __call__(self, texts: str | list[str], padding: bool = True, return_tensors: str | None = "pt",
                 **_: object) -> dict[str, torch.Tensor]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = [self.encode(t) for t in texts]
        width = max((len(i) for i in ids), default=0)
        input_ids = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            attention_mask[row, :len(seq)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def convert_ids_to_tokens(self, ids: list[int] | torch.Tensor) -> list[str]:
        return [chr(int(i)) for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids)]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        return "".join(self.convert_ids_to_tokens(ids))
