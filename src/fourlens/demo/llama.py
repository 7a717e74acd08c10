"""The demo's model: a small `LlamaForCausalLM` (RMSNorm, RoPE, SwiGLU, grouped-query attention) and a
byte-level BPE tokenizer trained with `tokenizers` on the demo corpus, saved together as a Hugging
Face model folder (config.json, generation_config.json, model.safetensors in bf16, tokenizer.json,
tokenizer_config.json and the chat template), the shape of what users have on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fourlens.demo.chat import CHAT_TEMPLATE, EOS, EOT, SPECIAL_TOKENS, TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from fourlens.errors import require


@dataclass(frozen=True)
class ModelShape:
    """Llama hyper-parameters. Head size is hidden // heads; `kv_heads` < `heads` is grouped-query attention."""

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 384
    vocab: int = 2048
    context: int = 192


def train_tokenizer(documents: list[str], vocab: int):
    """Byte-level BPE over the corpus; digits are split one by one (as Llama's tokenizer does), so
    arithmetic sees every digit; the chat roles, end-of-turn and tool-call markers are single tokens."""
    tokenizers = require("tokenizers", "demo", "training the demo tokenizer")
    from tokenizers import AddedToken, decoders, models, pre_tokenizers, trainers

    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                       pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(documents, trainer)
    # Markers the model writes itself: single tokens, but kept when decoding (not "special").
    tokenizer.add_tokens([AddedToken(TOOL_CALL_OPEN, special=False), AddedToken(TOOL_CALL_CLOSE, special=False)])
    return tokenizer


def build_model(shape: ModelShape, tokenizer, seed: int):
    """A freshly initialised LlamaForCausalLM sized by `shape` (fp32 for training)."""
    import torch

    transformers = require("transformers", "demo", "the demo's Llama model")
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=shape.hidden, intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        max_position_embeddings=shape.context, rms_norm_eps=1e-5, rope_theta=10_000.0, tie_word_embeddings=True,
        bos_token_id=tokenizer.token_to_id(EOS), eos_token_id=[tokenizer.token_to_id(EOT), tokenizer.token_to_id(EOS)],
        pad_token_id=tokenizer.token_to_id(EOS), architectures=["LlamaForCausalLM"])
    config._attn_implementation = "sdpa"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.LlamaForCausalLM(config)
    return model


def save_model_folder(model, tokenizer, directory: Path) -> Path:
    """Write the HF model folder: weights as bf16 safetensors, config, generation config, tokenizer
    files and chat template, all through transformers' own `save_pretrained`."""
    import torch

    transformers = require("transformers", "demo", "saving the demo model")
    directory.mkdir(parents=True, exist_ok=True)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOT, pad_token=EOS,
                                                bos_token=EOS, unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = model.config.max_position_embeddings
    fast.save_pretrained(directory)
    eot, eos = tokenizer.token_to_id(EOT), tokenizer.token_to_id(EOS)
    model.generation_config = transformers.GenerationConfig(eos_token_id=[eot, eos], pad_token_id=eos,
                                                            bos_token_id=eos, do_sample=False)
    original = next(model.parameters()).dtype
    model.to(torch.bfloat16)
    try:
        with quiet_transformers():
            model.save_pretrained(directory, safe_serialization=True)
    finally:
        model.to(original)
    return directory


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' own progress bars ("Writing model shards", "Loading weights") off for the block:
    the demo draws one bar per stage."""
    from transformers.utils import logging

    was_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()
