"""The transformer page: per-layer weight change and CKA, head-score changes (the representation lens's
findings and figures), and the attention view of a text the user types, from a checkpoint's model."""

from __future__ import annotations

from fourlens.errors import BadInputError
from fourlens.runs import Checkpoint
from fourlens.server import lens_calls
from fourlens.server.jobs import Progress
from fourlens.server.state import Dashboard, NotFoundError
from fourlens.server.views.common import lens_figures, lens_findings

MAX_TEXT_CHARS = 400


def build_transformer(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    report = dash.report(base, cand, progress)
    models = {c.id: lens_calls.model_spec(c.bundle) is not None for c in dash.loaded()}
    return {"findings": lens_findings(report, "representation", base, cand),
            "figures": lens_figures(report, "representation"),
            "with_model": [cid for cid, ok in models.items() if ok]}


def attention_view(dash: Dashboard, checkpoint: Checkpoint, text: str) -> dict:
    """`fourlens.transformer.attention` of `text` under the checkpoint's model: the head and model views
    as one self-contained page (for an iframe), and the tokens."""
    text = text.strip()
    if not text:
        raise BadInputError("type a text to see its attention")
    if len(text) > MAX_TEXT_CHARS:
        raise BadInputError(f"the text has {len(text)} characters; the attention view takes at most "
                            f"{MAX_TEXT_CHARS} (attention grows with the square of its length)")
    spec = lens_calls.model_spec(checkpoint.bundle)
    if spec is None:
        raise NotFoundError(f"{checkpoint.id}'s weights are not a model the transformer lens can run (a Hugging "
                            "Face model folder or a TinyLM checkpoint)")
    from fourlens.transformer import attention

    model, tokenizer = dash.cached_object(("model", checkpoint.fingerprint, spec), lambda: lens_calls.load_model(spec))
    result = attention(model, tokenizer, text)
    page = result.to_html(title=f"Attention of {checkpoint.id}")
    return {"checkpoint": checkpoint.id, "tokens": list(result.tokens[0]), "layers": result.n_layers,
            "heads": result.n_heads, "html": page}
