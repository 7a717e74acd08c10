"""Tiny randomly initialised models of every architecture family the lens reads, built from the
transformers config classes (nothing downloaded). Two layers, four heads, grouped-query attention where
the family has it, a sliding window of 8 tokens where the family has one."""

from __future__ import annotations

import torch

FAMILIES = ("gpt2", "gpt_neox", "opt", "llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "bert",
            "t5")
SLIDING = {"mistral": 8, "gemma2": 8, "gemma3": 8}


def build(family: str, seed: int = 0) -> torch.nn.Module:
    import transformers as t

    small = {"vocab_size": 128}
    decoder = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64,
                   max_position_embeddings=64, **small)
    gqa = dict(decoder, num_key_value_heads=2)
    makers = {
        "gpt2": lambda: t.GPT2LMHeadModel(t.GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=64,
                                                       bos_token_id=0, eos_token_id=0, **small)),
        "gpt_neox": lambda: t.GPTNeoXForCausalLM(t.GPTNeoXConfig(**decoder)),
        "opt": lambda: t.OPTForCausalLM(t.OPTConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32,
                                                    ffn_dim=64, max_position_embeddings=64, word_embed_proj_dim=32,
                                                    pad_token_id=1, bos_token_id=2, eos_token_id=2, **small)),
        "llama": lambda: t.LlamaForCausalLM(t.LlamaConfig(**gqa, bos_token_id=1, eos_token_id=2)),
        "mistral": lambda: t.MistralForCausalLM(t.MistralConfig(**gqa, sliding_window=SLIDING["mistral"],
                                                                bos_token_id=1, eos_token_id=2)),
        "qwen2": lambda: t.Qwen2ForCausalLM(t.Qwen2Config(**gqa)),
        "qwen3": lambda: t.Qwen3ForCausalLM(t.Qwen3Config(**gqa, head_dim=8)),
        "gemma2": lambda: t.Gemma2ForCausalLM(t.Gemma2Config(**gqa, head_dim=16, sliding_window=SLIDING["gemma2"],
                                                             pad_token_id=0, bos_token_id=2, eos_token_id=1)),
        "gemma3": lambda: t.Gemma3ForCausalLM(t.Gemma3TextConfig(**gqa, head_dim=16,
                                                                 sliding_window=SLIDING["gemma3"], pad_token_id=0,
                                                                 bos_token_id=2, eos_token_id=1)),
        "phi3": lambda: t.Phi3ForCausalLM(t.Phi3Config(**gqa, pad_token_id=0, bos_token_id=1, eos_token_id=2)),
        "bert": lambda: t.BertForMaskedLM(t.BertConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32,
                                                       intermediate_size=64, max_position_embeddings=64, **small)),
        "t5": lambda: t.T5ForConditionalGeneration(t.T5Config(num_layers=2, num_decoder_layers=2, num_heads=4,
                                                              d_model=32, d_kv=8, d_ff=64, decoder_start_token_id=0,
                                                              **small)),
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = makers[family]()
    return model.eval()
