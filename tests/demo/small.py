"""The reduced demo the tests build once per session: a smaller Llama (3 layers, 1,536 tokens of vocabulary)
than `fourlens demo`'s, the same faults; training is cached with the rest of the suite's models."""

from __future__ import annotations

from fourlens.demo import DemoConfig
from fourlens.demo.llama import ModelShape
from fourlens.demo.train import LrFault

SMALL = DemoConfig(shape=ModelShape(hidden=128, layers=3, heads=4, kv_heads=2, intermediate=384, vocab=1536,
                                    context=192),
                   steps=480, fork=160, batch=12, lr_fault=LrFault(step=440, factor=30.0, ramp=2, hold=1),
                   n_wordprob=200, n_agent_requests=20)


def build_small_workspace(root):
    """The reduced demo workspace (baseline, candidate and extras/control) under `root`."""
    from fourlens.demo import build_workspace

    return build_workspace(root, config=SMALL, control=True)
