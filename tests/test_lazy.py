"""Lazy re-exports keep the meaning eager `from .module import name` re-exports had."""

import importlib
import subprocess
import sys


def test_exported_names_win_over_submodules_of_the_same_name():
    import fourlens.weights.compare  # noqa: F401 - a submodule named like the exported function

    data = importlib.import_module("fourlens.data")
    weights = importlib.import_module("fourlens.weights")
    assert callable(data.profile) and data.profile.__module__ == "fourlens.data.build_profile"
    assert callable(weights.compare) and weights.compare.__module__ == "fourlens.weights.compare"
    assert "load_tokenizer" in dir(data) and "load_tokenizer" in data.__all__



def test_listing_the_cli_imports_no_lens_internals():
    code = ("import sys, fourlens.cli; fourlens.cli.app; "
            "print(sorted(m for m in ('torch', 'pandas', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
