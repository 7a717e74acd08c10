"""`fourlens transformer attention|heads|logit-lens|embeddings|compare|attribute`. Parses, calls, renders; no analysis.

MODEL everywhere: `minilm`, `tinylm[:STEP]`, a TinyLM .safetensors file or a local Hugging Face model
directory (see `fourlens.transformer.load`). Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from fourlens._io import HTML_MARKER
from fourlens.cli_errors import user_errors
from fourlens.errors import BadInputError
from fourlens.report.terminal import titled_table

app = typer.Typer(no_args_is_help=True, help="Transformer representation: attention views, head scores, "
                                              "logit lens, embeddings, checkpoint comparison, token attribution.")
# piped output (logs, CI) gets a fixed width instead of rich's 80-column default
console = Console() if sys.stdout.isatty() else Console(width=120)
MODEL_HELP = "minilm, tinylm[:STEP], a TinyLM .safetensors file, or a local Hugging Face model directory."
DEVICE_OPTION = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N, mps, or auto (spread over GPUs; needs "
                                                     "accelerate).")
DTYPE_OPTION = typer.Option("auto", "--dtype", help="auto (as stored), float32, bfloat16 or float16.")
STREAM_OPTION = typer.Option(False, "--stream", help="Keep the blocks on disk and read one at a time (models "
                                                     "larger than memory; Hugging Face folders).")


def _write(path: Path, text: str) -> None:
    from fourlens._io import guard_output, write_atomic

    guard_output(path, HTML_MARKER, b'"fourlens.transformer"')
    write_atomic(path, text)
    console.print(f"wrote {path}")


def _plot_page(figure, title: str) -> str:
    html = figure.to_html(include_plotlyjs=True, full_html=True)  # plotly.js inlined: works offline
    return html.replace("<head>", f'<head><meta {HTML_MARKER.decode()} transformer"><title>{title}</title>', 1)


def _json(data: dict) -> str:
    from fourlens.report.jsonsafe import json_safe

    # NaN (e.g. dead-unit shares of a model without MLPs) becomes "NaN", as in report JSON
    return json.dumps(json_safe({"schema": "fourlens.transformer", **data}, "output"), indent=2)


@app.command("attention")
@user_errors
def attention_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    text: str = typer.Argument(..., help="The text (sentence A for a pair)."),
    text_b: str | None = typer.Option(None, "--pair", help="Sentence B: enables the A -> B filter."),
    html: Path = typer.Option(Path("attention.html"), "--html", help="Where to write the head/model view page."),
    max_tokens: int = typer.Option(512, "--max-tokens", help="Refuse longer texts (memory grows as tokens^2)."),
    window: str | None = typer.Option(None, "--window", help="START:STOP token positions to show (pages "
                                                              "hold at most 128 tokens)."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """Attention of every layer and head, as a self-contained head view + model view page."""
    from fourlens.transformer import attention
    from fourlens.transformer.load import load_model

    bounds = None
    if window is not None:
        start, _, stop = window.partition(":")
        if not (start.isdigit() and stop.isdigit()):
            raise BadInputError(f"--window takes START:STOP token positions, e.g. 0:100; got {window!r}")
        bounds = (int(start), int(stop))
    loaded, tokenizer = load_model(model, device=device, dtype=dtype)
    result = attention(loaded, tokenizer, [(text, text_b)] if text_b else [text], max_tokens=max_tokens)
    if bounds is not None:
        result = result.window(*bounds)
    entropy = result.entropy(0)
    table = titled_table(f"{len(result.tokens[0])} tokens: mean attention entropy per head (nats)")
    table.add_column("layer")
    for head in range(result.n_heads):
        table.add_column(str(head), justify="right")
    for layer in range(result.n_layers):
        table.add_row(str(layer), *[f"{float(v):.2f}" for v in entropy[layer]])
    console.print(table)
    _write(html, result.to_html(title=f"Attention: {text}" + (f" / {text_b}" if text_b else "")))


@app.command("heads")
@user_errors
def heads_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    html: Path | None = typer.Option(None, "--html", help="Write a layers x heads heatmap page here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the scores (and circuit) as JSON here."),
    score: str = typer.Option("induction", "--score", help="Which score the heatmap shows."),
    circuit: bool = typer.Option(False, "--circuit", help="Also find the induction circuit and ablate it."),
    sequences: int = typer.Option(64, "--sequences", help="Repeated random probe sequences."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random probe sequences."),
    over_training: bool = typer.Option(False, "--over-training", help="Score every checkpoint of a TinyLM run "
                                       "(MODEL: tinylm or a directory of step-*.safetensors) and draw the curves."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    stream: bool = STREAM_OPTION,
) -> None:
    """Previous-token, induction, duplicate-token, copying and entropy scores of every head."""
    from fourlens.report.plotting import to_plotly
    from fourlens.transformer import head_scores, heads_figure, induction_circuit
    from fourlens.transformer.head_scores import SCORE_COLUMNS
    from fourlens.transformer.load import load_model

    if score not in SCORE_COLUMNS:
        raise BadInputError(f"--score must be one of {', '.join(SCORE_COLUMNS)}; got {score!r}")
    if over_training:
        _over_training(model, sequences, seed, html, json_path, device, dtype)
        return
    loaded, tokenizer = load_model(model, device=device, dtype=dtype, stream=stream)
    table = head_scores(loaded, tokenizer, n_sequences=sequences, seed=seed)
    view = titled_table(f"head scores of {model} on {sequences} repeated random sequences")
    for column in table.columns:
        view.add_column(column, justify="right")
    for row in table.itertuples(index=False):
        view.add_row(*[str(v) if isinstance(v, int) else f"{v:.3f}" for v in row])
    console.print(view)
    found = None
    if circuit:
        found = induction_circuit(loaded, tokenizer, scores=table, n_sequences=sequences, seed=seed)
        console.print(found.description)
    if html is not None:
        figure = to_plotly(heads_figure(table, score))
        figure.update_xaxes(dtick=1)
        figure.update_yaxes(dtick=1)
        _write(html, _plot_page(figure, f"{score} scores"))
    if json_path is not None:
        _write(json_path, _json({"heads": table.to_dict(orient="records"),
                                 "circuit": found.to_dict() if found else None}))


def _over_training(model: str, sequences: int, seed: int, html: Path | None, json_path: Path | None, device: str,
                   dtype: str) -> None:
    from fourlens.report import Figure
    from fourlens.report.plotting import to_plotly
    from fourlens.transformer import head_scores_over_training, score_curves
    from fourlens.transformer.load import run_checkpoints

    checkpoints, tokenizer = run_checkpoints(model, device, dtype)
    table = head_scores_over_training(checkpoints, tokenizer, n_sequences=sequences, seed=seed)
    curves = score_curves(table)
    view = titled_table(f"head scores over the checkpoints of {model}")
    for column in curves.columns:
        view.add_column(column, justify="right")
    for row in curves.itertuples(index=False):
        view.add_row(str(int(row.step)), *[f"{v:.3f}" for v in row[1:]])
    console.print(view)
    if html is not None:
        steps = curves.step.tolist()
        series = [{"name": name, "x": steps, "y": curves[column].round(4).tolist()} for column, name in (
            ("induction", "max induction score, layers >= 1"), ("previous_token", "max previous-token score, layer 0"),
            ("duplicate_token", "max duplicate-token score, layer 0"))]
        figure = Figure("representation", "head scores over training", "line",
                        {"x_label": "step", "y_label": "attention score", "series": series})
        _write(html, _plot_page(to_plotly(figure), "head scores over training"))
    if json_path is not None:
        _write(json_path, _json({"heads_over_training": table.to_dict(orient="records")}))


@app.command("logit-lens")
@user_errors
def logit_lens_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    text: str = typer.Argument(..., help="The prompt; the last token's prediction is read per layer."),
    answer: str | None = typer.Option(None, "--answer", help="Token to follow (default: the model's top-1)."),
    top_k: int = typer.Option(5, "--top", help="Top tokens per layer."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    stream: bool = STREAM_OPTION,
) -> None:
    """Decode the residual stream after every layer through the final norm and unembedding."""
    from fourlens.transformer import logit_lens
    from fourlens.transformer.load import load_model

    loaded, tokenizer = load_model(model, device=device, dtype=dtype, stream=stream)
    result = logit_lens(loaded, tokenizer, text, answer=answer, top_k=top_k)
    view = titled_table(f"logit lens at {result.tokens[result.position]!r}; answer {result.answer!r}")
    for column in ("layer", "p(answer)", "rank", "top tokens"):
        view.add_column(column)
    for row in result.table.itertuples():
        top = ", ".join(f"{t!r} {p:.2f}" for t, p in zip(row.top_tokens, row.top_probs, strict=True))
        view.add_row(row.layer, f"{row.answer_prob:.3f}", str(row.answer_rank), top)
    console.print(view)


@app.command("embeddings")
@user_errors
def embeddings_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    words: list[str] = typer.Argument(..., help="Words or tokens to map (at least 3)."),
    layer: int | None = typer.Option(None, "--layer", help="Contextual hidden states after this many blocks."),
    method: str = typer.Option("pca", "--method", help="pca (default), or umap (first call compiles ~15 s)."),
    html: Path | None = typer.Option(None, "--html", help="Write the 2-D map page here."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """Nearest neighbours by cosine and a 2-D map of input embeddings or hidden states."""
    from fourlens.transformer import embedding_map
    from fourlens.transformer.load import load_model

    loaded, tokenizer = load_model(model, device=device, dtype=dtype)
    result = embedding_map(loaded, tokenizer, words, layer=layer, method=method)
    view = titled_table(f"nearest neighbours ({result.source}, cosine)")
    view.add_column("word")
    view.add_column("among the given words")
    if result.vocab_neighbours:
        view.add_column("in the vocabulary")
    for word, near in result.neighbours.items():
        cells = [word, ", ".join(f"{w} {c:.2f}" for w, c in near[:3])]
        if result.vocab_neighbours:
            cells.append(", ".join(f"{w} {c:.2f}" for w, c in result.vocab_neighbours[word][:3]))
        view.add_row(*cells)
    console.print(view)
    if html is not None:
        _write(html, _plot_page(result.to_plotly(), "embedding map"))


@app.command("compare")
@user_errors
def compare_command(
    model_a: str = typer.Argument(..., help="Baseline: " + MODEL_HELP),
    model_b: str = typer.Argument(..., help="Candidate, same architecture."),
    probe: list[str] = typer.Option(None, "--probe", help="A probe text (repeatable)."),
    probe_file: Path | None = typer.Option(None, "--probe-file", help="Probe texts, one per line."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the comparison as JSON here."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    stream: bool = STREAM_OPTION,
) -> None:
    """Layer-by-layer CKA, attention entropy, head scores and activation statistics of two checkpoints."""
    from fourlens.transformer import compare_checkpoints
    from fourlens.transformer.load import load_model

    texts = list(probe or [])
    if probe_file is not None:
        if not probe_file.is_file():
            raise BadInputError(f"--probe-file {probe_file} does not exist")
        texts += [line for line in probe_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(texts) < 2:
        raise BadInputError("give at least 2 probe texts with --probe or --probe-file")
    a, tokenizer = load_model(model_a, device=device, dtype=dtype, stream=stream)
    b, _ = load_model(model_b, device=device, dtype=dtype, stream=stream)
    result = compare_checkpoints(a, b, tokenizer, texts)
    view = titled_table("per layer")
    for column in ("layer", "cka", "norm_a", "norm_b", "massive_a", "massive_b"):
        view.add_column(column, justify="right")
    for row in result.layers.itertuples():
        view.add_row(row.layer, *[f"{getattr(row, c):.3f}" for c in ("cka", "norm_a", "norm_b", "massive_a",
                                                                       "massive_b")])
    console.print(view)
    findings = sorted(result.findings(), key=lambda f: -f.score)
    shown = [f for f in findings if f.score >= 0.01]
    for finding in shown:
        console.print(f"[bold]{finding.score:.2f}[/bold] {finding.title} -> {finding.next_check}")
    if len(shown) < len(findings):
        console.print(f"{len(findings) - len(shown)} more with score < 0.01 (too few probe texts to be sure); "
                      "see --json")
    if not findings:
        console.print("no representation findings: the checkpoints look alike on these probes")
    if json_path is not None:
        _write(json_path, _json(result.to_dict()))


@app.command("attribute")
@user_errors
def attribute_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    prompt: str = typer.Argument(..., help="The prompt."),
    target: str = typer.Argument(..., help="The continuation to explain (teacher-forced after the prompt)."),
    method: str = typer.Option("integrated_gradients", "--method",
                               help="integrated_gradients, gradient_x_input or feature_ablation."),
    steps: int = typer.Option(50, "--steps", help="Integrated-gradients quadrature points."),
    baseline_token: int | None = typer.Option(None, "--baseline-token", help="Baseline token id (default: the "
                                              "tokenizer's unknown/padding token, else 0)."),
    html: Path = typer.Option(Path("attribution.html"), "--html", help="Where to write the token heat view."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the attributions as JSON here."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """Which prompt tokens drove a continuation: token attributions of its log-probability."""
    from fourlens.transformer import token_attribution
    from fourlens.transformer.load import load_model

    loaded, tokenizer = load_model(model, device=device, dtype=dtype)
    result = token_attribution(loaded, tokenizer, prompt, target, method=method, steps=steps,  # type: ignore[arg-type]
                               baseline_token=baseline_token)
    view = titled_table(f"{method}: log p(continuation) = {float(result.target_log_probs.sum()):.3f}")
    view.add_column("prompt token")
    view.add_column("attribution", justify="right")
    for token, value in zip(result.input_tokens, result.seq_attr.tolist(), strict=True):
        view.add_row(repr(token), f"{value:+.4f}")
    console.print(view)
    _write(html, result.to_html(title=f"Token attribution: {prompt!r} -> {target!r}"))
    if json_path is not None:
        _write(json_path, _json({"attribution": result.to_dict()}))
