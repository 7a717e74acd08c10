"""A tiny attention-only decoder that forms induction heads on CPU in a few minutes, trained by fourlens
itself so the transformer lens can be shown on a real training run.

`model` (the network and its config), `tokenizer` (one token per ASCII character), `training` (the
recipe and `train`), `cache` (checkpoints on disk, `cached_run`: train once, reuse) and `source` (the
model source the `fourlens` command registers: `tinylm[:STEP]`)."""

from fourlens.demo.tinylm.cache import TinyLMRun, cache_dir, cached_run, load, run_key
from fourlens.demo.tinylm.model import Attention, Block, TinyLM, TinyLMConfig, TinyLMOutput, make_model
from fourlens.demo.tinylm.source import MODEL_SOURCE
from fourlens.demo.tinylm.tokenizer import AsciiTokenizer
from fourlens.demo.tinylm.training import TrainConfig, lm_losses, repeated_batch, train

__all__ = ["MODEL_SOURCE", "AsciiTokenizer", "Attention", "Block", "TinyLM", "TinyLMConfig", "TinyLMOutput",
           "TinyLMRun", "TrainConfig", "cache_dir", "cached_run", "lm_losses", "load", "make_model",
           "repeated_batch", "run_key", "train"]
