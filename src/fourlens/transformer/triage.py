"""The transformer lens in triage: load both checkpoints as models and compare them inside.

A bundle's weights are a model fourlens can run when they are a local Hugging Face model directory
(config.json + *.safetensors) or a checkpoint of a registered model source
(`fourlens.transformer.sources`; the `fourlens` command registers the demo's TinyLM). Other weights (a
bare state dict of an unknown architecture) give no findings here; the `weights` lens still compares
them tensor by tensor. `[options.transformer]` in fourlens.toml: `probe_texts` (else a fixed set of
short English sentences), `device` ("cpu" by default, "cuda", "auto"), `dtype` ("auto": as stored)
`stream` (true: read the blocks from disk one at a time, for models larger than memory) and
`trust_pickle` (false: a model folder without *.safetensors weights is refused, since unpickling can run code)
and `attribution_items` (2: how many regressed eval items get a token attribution of each checkpoint's
answer, `fourlens.transformer.regressed_items`; 0: none).

Findings and their severity/confidence rules: `fourlens.transformer.findings`.
"""

from __future__ import annotations

import json
from pathlib import Path

from fourlens.errors import BadInputError
from fourlens.report import Figure
from fourlens.transformer.compare import compare_checkpoints
from fourlens.transformer.head_scores import heads_figure
from fourlens.transformer.load import load_model
from fourlens.transformer.regressed_items import regressed_item_figures, regressed_items
from fourlens.transformer.sources import find_source
from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis, NotApplicable

DEFAULT_PROBES = (
    "The cat sat on the mat, and then the cat sat on the rug.",
    "In 1905 Einstein published four papers that changed physics.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "The committee approved the budget after a long debate.",
    "Water boils at 100 degrees Celsius at sea level.",
    "She said that the meeting was moved to Thursday afternoon.",
)


def _model_path(bundle: Bundle) -> str | None:
    """The newest loadable model among the bundle's weights, as a `load_model` spec, or None."""
    candidates = []
    for path in bundle.paths("weights"):
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        config = folder / "config.json"
        if not config.is_file() or not path.name.endswith(".safetensors"):
            continue
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if find_source(str(path)) is not None:
            candidates.append(str(path))
        elif "model_type" in data:
            candidates.append(str(folder))
    return sorted(candidates)[-1] if candidates else None


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    spec_a, spec_b = _model_path(baseline), _model_path(candidate)
    if spec_a is None or spec_b is None:
        sides = [name for name, spec in (("baseline", spec_a), ("candidate", spec_b)) if spec is None]
        raise NotApplicable(f"the {' and '.join(sides)} weights are not a model this lens can run (a Hugging "
                            "Face model folder or a registered model source's checkpoint); the weights lens "
                            "compares them tensor by tensor")
    options = candidate.lens_options("transformer")
    probes = options.get("probe_texts") or list(DEFAULT_PROBES)
    device, dtype = str(options.get("device", "cpu")), str(options.get("dtype", "auto"))
    stream, trust = bool(options.get("stream", False)), bool(options.get("trust_pickle", False))
    model_a, tokenizer = load_model(spec_a, device=device, dtype=dtype, stream=stream, trust_pickle=trust)
    model_b, _ = load_model(spec_b, device=device, dtype=dtype, stream=stream, trust_pickle=trust)
    result = compare_checkpoints(model_a, model_b, tokenizer, probes)
    figures = [Figure("representation", "linear CKA between the checkpoints per layer", "bar",
                      {"x_label": "layer", "y_label": "linear CKA", "categories": result.layers.layer.tolist(),
                       "series": [{"name": "CKA", "values": result.layers.cka.round(4).tolist()}]},
                      caption="1 = the two checkpoints represent the probe texts alike at this depth.")]
    figures.append(heads_figure(result.heads, "induction_change",
                                "induction score change per head (candidate - baseline)"))
    notes = []
    n_items = int(options.get("attribution_items", 2))
    if n_items > 0 and baseline.has("evals") and candidate.has("evals"):
        try:
            pairs = regressed_items(baseline.paths("evals"), candidate.paths("evals"), n_items,
                                    dict(candidate.lens_options("behavior") or baseline.lens_options("behavior")))
            figures.extend(regressed_item_figures(pairs, model_a, model_b, tokenizer))
        except BadInputError as exc:   # an encoder, or evals this lens cannot read: the comparison stands
            notes.append(f"no token attribution of regressed eval items: {exc}")
        except (RuntimeError, IndexError, ValueError) as exc:   # e.g. a prompt longer than the model's context
            notes.append(f"no token attribution of regressed eval items: the model failed on an item's prompt "
                         f"({type(exc).__name__}: {str(exc)[:200]})")
    return Diagnosis(findings=result.findings(), figures=figures, notes=notes)
