"""A Llama model folder as `save_pretrained` writes one (config.json, tokenizer.json, bf16
model.safetensors), from a tiny random-init LlamaForCausalLM and a byte-level BPE tokenizer trained
here on a few sentences: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import torch

from fourlens.transformer.triage import DEFAULT_PROBES

CORPUS = list(DEFAULT_PROBES)  # the probe texts triage uses by default


def write_tokenizer(folder: Path, vocab_size: int = 300, with_config: bool = True) -> int:
    """tokenizer.json (and, with `with_config`, tokenizer_config.json); returns the vocabulary size.
    Like Llama's own tokenizers it has BOS/EOS/UNK and no padding token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS * 4, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    if with_config:
        import transformers

        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                                    unk_token="<unk>")
        fast.save_pretrained(str(folder))
    else:
        tokenizer.save(str(folder / "tokenizer.json"))
    return tokenizer.get_vocab_size()


def write_llama_folder(folder: Path, seed: int = 0, dtype: torch.dtype = torch.bfloat16, layers: int = 2,
                       hidden: int = 64, heads: int = 4, kv_heads: int = 2, with_tokenizer_config: bool = True,
                       perturb_layer: int | None = None) -> Path:
    """Write the folder; `perturb_layer` adds noise to that layer's weights (a changed checkpoint)."""
    import transformers

    vocab = write_tokenizer(folder, with_config=with_tokenizer_config)
    config = transformers.LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                                      num_hidden_layers=layers, num_attention_heads=heads,
                                      num_key_value_heads=kv_heads, max_position_embeddings=256,
                                      bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.LlamaForCausalLM(config).eval()
        if perturb_layer is not None:
            with torch.no_grad():
                for p in model.model.layers[perturb_layer].parameters():
                    p.add_(torch.randn_like(p) * 0.5)
    model.to(dtype).save_pretrained(str(folder))
    return folder
