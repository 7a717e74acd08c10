"""How the dashboard finds, in a bundle, what a lens's triage finds there: the model the transformer lens
runs, and the eval items and fields the data lens scans for contamination. The lenses keep these rules
in their triage modules; the dashboard reuses them through this one module, so that it never applies a
rule of its own (and a rename in a lens is followed here only)."""

from __future__ import annotations

from typing import Any

from fourlens.triage.bundle import Bundle


def model_spec(bundle: Bundle) -> str | None:
    """The `load_model` spec of the model in the bundle's weights, or None (see fourlens.transformer.triage)."""
    from fourlens.transformer.triage import _model_path

    return _model_path(bundle) if bundle.has("weights") else None


def load_model(spec: str) -> tuple[Any, Any]:
    """(model, tokenizer) for a spec from `model_spec`, as the transformer lens loads it."""
    from fourlens.transformer.load import load_model as load

    return load(spec)


def data_fields(bundle: Bundle) -> dict:
    """The text / domain / url fields of the bundle's data snapshot, as the data lens picks them."""
    from fourlens.data.triage import _fields

    return _fields([str(p) for p in bundle.paths("data")], dict(bundle.lens_options("data")))


def contamination_eval_files(bundle: Bundle) -> list[str]:
    """The eval items the data lens scans the bundle's data for (its option, else lm-eval samples)."""
    from fourlens.data.triage import _eval_files

    return list(_eval_files(bundle, bundle.lens_options("data").get("contamination_evals")))
