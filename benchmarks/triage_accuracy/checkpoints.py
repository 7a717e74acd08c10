"""Checkpoints as users keep them: a Hugging Face model folder written by `save_pretrained`
(config.json, generation_config.json, model.safetensors or shards with their index, and a tokenizer
trained with the `tokenizers` library and saved by `PreTrainedTokenizerFast.save_pretrained`), or a bare
state dict in one `.safetensors` file (`safetensors.torch.save_file`).

Small transformer shapes (Llama, GPT-2 or GPT-NeoX naming; 4-6 layers, width 64-96) keep the files to
a few MB. The candidate is the baseline after more training: every tensor moves by a small relative
amount. Planted changes: one corrupted tensor (scaled, re-initialised, zeroed, bit-flipped or NaN),
or a new tokenizer with a different vocabulary (embedding and output rows resized).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARCHS = ("llama", "gpt2", "gpt_neox")
LAYER_PREFIX = {"llama": "model.layers.{i}.", "gpt2": "transformer.h.{i}.", "gpt_neox": "gpt_neox.layers.{i}."}
CORRUPTIBLE = {"llama": ("self_attn.q_proj.weight", "self_attn.o_proj.weight", "mlp.down_proj.weight",
                         "mlp.up_proj.weight"),
               "gpt2": ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"),
               "gpt_neox": ("attention.query_key_value.weight", "attention.dense.weight",
                            "mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight")}


@dataclass
class WeightsSpec:
    arch: str
    layers: int
    width: int
    vocab: int
    dtype: str                 # bfloat16 | float32
    layout: str                # hf | hf_sharded | bare
    update: float              # relative size of the training update between the checkpoints
    corrupt: dict | None = None
    vocab_candidate: int | None = None


def _config(spec: WeightsSpec, vocab: int):
    import transformers

    common = {"vocab_size": vocab, "bos_token_id": 0, "eos_token_id": 1}
    if spec.arch == "llama":
        return transformers.LlamaConfig(hidden_size=spec.width, intermediate_size=spec.width * 8 // 3,
                                        num_hidden_layers=spec.layers, num_attention_heads=4, num_key_value_heads=4,
                                        max_position_embeddings=512, tie_word_embeddings=False, **common)
    if spec.arch == "gpt2":
        return transformers.GPT2Config(n_embd=spec.width, n_layer=spec.layers, n_head=4, n_positions=512, **common)
    return transformers.GPTNeoXConfig(hidden_size=spec.width, intermediate_size=spec.width * 4,
                                      num_hidden_layers=spec.layers, num_attention_heads=4,
                                      max_position_embeddings=512, tie_word_embeddings=False, **common)


def _model(spec: WeightsSpec, vocab: int, seed: int):
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)  # the transformers initialisers draw from the global generator
    config = _config(spec, vocab)
    cls = {"llama": transformers.LlamaForCausalLM, "gpt2": transformers.GPT2LMHeadModel,
           "gpt_neox": transformers.GPTNeoXForCausalLM}[spec.arch]
    return cls(config)


def write_pair(base_dir: Path, cand_dir: Path, spec: WeightsSpec, seed: int, corpus: list[str]) -> dict:
    """Write both checkpoints; returns what was planted ({} when nothing)."""
    import torch

    rng = np.random.default_rng(seed)
    base = _model(spec, spec.vocab, seed)
    with torch.no_grad():  # a trained-looking baseline: tensors of different scales, norms near 1
        for tensor in base.parameters():
            tensor.mul_(float(rng.uniform(0.6, 1.8))) if tensor.ndim > 1 else tensor.add_(
                torch.from_numpy(rng.normal(0.0, 0.05, tuple(tensor.shape)).astype(np.float32)))
    state = {k: v.detach().clone() for k, v in base.state_dict().items()}
    vocab_c = spec.vocab_candidate or spec.vocab
    cand = _model(spec, vocab_c, seed + 1)
    new_state = {}
    with torch.no_grad():
        for name, tensor in state.items():
            step = float(spec.update * rng.uniform(0.5, 2.0)) * (float(tensor.float().std()) or 0.05)
            moved = tensor + torch.from_numpy(rng.normal(0.0, step, tuple(tensor.shape)).astype(np.float32))
            target = cand.state_dict()[name]
            if target.shape != moved.shape:  # a resized vocabulary: old rows kept, new rows initialised
                grown = target.clone()
                rows = min(target.shape[0], moved.shape[0])
                grown[:rows] = moved[:rows]
                moved = grown
            new_state[name] = moved
    planted = {}
    if spec.corrupt:
        planted = _corrupt(new_state, spec, rng)
        changes = {name: float((new_state[name].double() - state[name].double()).norm() / state[name].double().norm())
                   for name in state if new_state[name].shape == state[name].shape and state[name].double().norm() > 0}
        others = sorted(v for k, v in changes.items() if k != planted["tensor"])
        planted.update(rel_change=changes[planted["tensor"]], median_rel_change=others[len(others) // 2])
    cand.load_state_dict(new_state, strict=False)
    _save(base, base_dir, spec, spec.vocab, corpus, seed)
    _save(cand, cand_dir, spec, vocab_c, corpus, seed if vocab_c == spec.vocab else seed + 7)
    return planted


def _corrupt(state: dict, spec: WeightsSpec, rng: np.random.Generator) -> dict:
    import torch

    layer = spec.corrupt["layer"]
    name = LAYER_PREFIX[spec.arch].format(i=layer) + spec.corrupt["tensor"]
    tensor = state[name]
    mode = spec.corrupt["mode"]
    if mode == "scaled":
        state[name] = tensor * spec.corrupt["factor"]
    elif mode == "reinit":
        state[name] = torch.from_numpy(rng.normal(0.0, 0.02, tuple(tensor.shape)).astype(np.float32))
    elif mode == "zeroed":
        state[name] = torch.zeros_like(tensor)
    else:  # bit flips: a few elements get huge exponents (or become NaN/Inf)
        flat = tensor.clone().reshape(-1)
        idx = torch.from_numpy(rng.choice(flat.numel(), size=int(spec.corrupt["count"]), replace=False))
        flat[idx] = float("nan") if mode == "nan" else float(spec.corrupt["factor"])
        state[name] = flat.reshape(tensor.shape)
    return {"tensor": name, "mode": mode}


def _save(model, folder: Path, spec: WeightsSpec, vocab: int, corpus: list[str], tok_seed: int) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    model = model.to(torch.bfloat16) if spec.dtype == "bfloat16" else model
    if spec.layout == "bare":
        from safetensors.torch import save_model

        save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})  # drops tied duplicates
        return
    shard = "200KB" if spec.layout == "hf_sharded" else "2GB"
    model.save_pretrained(str(folder), safe_serialization=True, max_shard_size=shard)
    tokenizer(vocab, tok_seed, tuple(corpus)).save_pretrained(str(folder))


@functools.lru_cache(maxsize=8)
def tokenizer(vocab: int, seed: int, corpus: tuple[str, ...]):
    """A byte-level BPE tokenizer trained on `corpus` with exactly `vocab` entries (padded with
    reserved tokens if the corpus is too small), wrapped for save_pretrained."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(corpus)
    random.Random(seed).shuffle(texts)
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    missing = vocab - tok.get_vocab_size()
    if missing > 0:
        tok.add_special_tokens([f"<|reserved_{i}|>" for i in range(missing)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")
