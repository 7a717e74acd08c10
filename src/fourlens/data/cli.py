"""`fourlens data profile|diff|contamination`: parse arguments, call fourlens.data, render."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from fourlens._io import HTML_MARKER, REPORT_JSON_MARKER, guard_output
from fourlens.cli_errors import user_errors
from fourlens.cli_output import linked, write_report_outputs
from fourlens.report.terminal import titled_table

app = typer.Typer(help="Data: domain-mix drift, token statistics, contamination (profile once, diff many).",
                  invoke_without_command=True)


@app.callback()
def _group(ctx: typer.Context) -> None:
    # `fourlens data` alone shows the verbs and exits 0, like the other lens groups
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())

ENGINE_HELP = "local (processes on this machine) or ray."


# what each output of these commands starts with, so a rerun may replace its own file and no other
_MARKERS = {"profile": b"meta.npy", "html": HTML_MARKER, "json": REPORT_JSON_MARKER, "csv": b"eval_set,"}


def _guard(path: Path | None, kind: str) -> None:
    guard_output(path, _MARKERS[kind], option=kind)


@app.command("profile")
@user_errors
def profile_command(
    corpus: list[str] = typer.Argument(..., help="Shards: files, dirs or globs (JSONL/.gz/.zst, Parquet, text)."),
    out: Path = typer.Option(..., "-o", "--out", help="Write the profile here (e.g. snapshot.fl)."),
    tokenizer: str = typer.Option("words", "--tokenizer", help="'words' or a tokenizer.json / directory holding one."),
    text_field: str = typer.Option("text", "--text-field", help="The field (or Parquet column) holding each "
                                   "document's text."),
    domain_field: str | None = typer.Option(None, "--domain-field", help="Field naming each document's domain."),
    url_field: str | None = typer.Option(None, "--url-field", help="Derive the domain from this URL field."),
    domain_from: str | None = typer.Option(None, "--domain-from", help="field, host, suffix, directory or none."),
    near_duplicates: bool = typer.Option(False, "--near-duplicates", help="Keep MinHash signatures."),
    minhash_rate: float = typer.Option(1.0, "--minhash-rate", help="Share of documents kept for MinHash."),
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    workers: int | None = typer.Option(None, "--workers", help="Processes (or Ray CPUs) to use (default: all "
                                       "cores, at most one per shard)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: a local instance)."),
) -> None:
    """Profile a corpus once; diff profiles many times."""
    from fourlens.data.build_profile import profile

    _guard(out, "profile")
    result = profile(corpus, tokenizer=tokenizer, text_field=text_field, domain_field=domain_field,
                     url_field=url_field, domain_from=domain_from, near_duplicates=near_duplicates,
                     minhash_rate=minhash_rate, engine=engine, workers=workers, address=address,
                     progress=sys.stderr.isatty())
    result.save(out)
    console = Console()
    table = titled_table(f"{result.n_documents:,} documents, {result.n_tokens:,} tokens ({result.tokenizer.name})")
    for column in ("domain", "documents", "tokens", "% tokens", "% documents"):
        table.add_column(column, justify="left" if column == "domain" else "right")
    for row in result.domain_table().itertuples(index=False):
        table.add_row(row.domain, f"{row.documents:,}", f"{row.tokens:,}", f"{100 * row.tokens_share:.1f}",
                      f"{100 * row.documents_share:.1f}")
    console.print(table)
    shares = ", ".join(f"{k} {100 * v:.2f}%" for k, v in result.class_shares().items())
    console.print(f"token classes: {shares}")
    near = result.near_duplicate_rate()
    console.print(f"exact duplicates: {100 * result.exact_duplicate_rate():.2f}% of documents"
                  + (f"; near duplicates (MinHash): {100 * near:.2f}%" if near is not None else ""))
    console.print(f"profile: {out}")


@app.command("diff")
@user_errors
def diff_command(
    baseline: Path = typer.Argument(..., help="Profile of the baseline snapshot (.fl)."),
    candidate: Path = typer.Argument(..., help="Profile of the candidate snapshot (.fl)."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON report here."),
) -> None:
    """What changed between two snapshots: domain mix, token classes, tokens, duplicates."""
    from fourlens.data.corpus_profile import Profile
    from fourlens.data.diff import compare_profiles, diff_figures, findings_from
    from fourlens.report import Report

    _guard(html, "html")
    _guard(json_path, "json")
    d = compare_profiles(Profile.load(baseline), Profile.load(candidate), names=(baseline.stem, candidate.stem))
    report = linked(Report(title=f"data: {candidate.stem} vs {baseline.stem}", findings=tuple(findings_from(d)),
                           baseline=baseline.stem, candidate=candidate.stem, figures=tuple(diff_figures(d))))
    console = Console()
    console.print(f"domain mix: JS distance {d.mix['js_distance_tokens']:.3f}, PSI {d.mix['psi_tokens']:.3f}, "
                  f"Cramér's V {d.mix['cramers_v_documents']:.3f}")
    report.print(console)
    write_report_outputs(report, html, json_path)


@app.command("contamination")
@user_errors
def contamination_command(
    train: list[str] = typer.Option(..., "--train", help="Training shards (repeatable; files, directories, globs)."),
    evals: list[str] = typer.Option(..., "--evals", help="Eval sets: JSONL or lm-eval samples_*.jsonl (repeatable)."),
    n: int = typer.Option(13, "-n", help="N-gram length (13: GPT-3/lm-eval; 8: PaLM)."),
    rule: str = typer.Option("any", "--rule", help="any (GPT-3), palm (>= 70%), llama2 (dirty >= 80%)."),
    mode: str = typer.Option("words", "--mode", help="words (normalized) or tokens (needs --tokenizer)."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="A tokenizer.json (or directory holding one) "
                                         "for --mode tokens."),
    text_field: str = typer.Option("text", "--text-field", help="The field (or Parquet column) holding each "
                                   "document's text."),
    eval_text_field: list[str] | None = typer.Option(None, "--eval-text-field", help="Item text field(s)."),
    boilerplate_docs: int | None = typer.Option(None, "--boilerplate-docs",
                                                help="N-grams in this many training documents are boilerplate."),
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    workers: int | None = typer.Option(None, "--workers", help="Processes (or Ray CPUs) to use (default: all "
                                       "cores, at most one per shard)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: a local instance)."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the report JSON here."),
    csv_path: Path | None = typer.Option(None, "--csv", help="Write the per-item table here."),
) -> None:
    """Which eval items appear in the training data, with the matched span and where."""
    from fourlens.data.contamination import contamination
    from fourlens.report import Figure, Report

    for path, kind in ((html, "html"), (json_path, "json"), (csv_path, "csv")):
        _guard(path, kind)
    result = contamination(train, evals, n=n, rule=rule, mode=mode, tokenizer=tokenizer, text_field=text_field,
                           eval_text_fields=eval_text_field or None, boilerplate_docs=boilerplate_docs,
                           engine=engine, workers=workers, address=address, progress=sys.stderr.isatty())
    console = Console()
    summary = result.summary()
    table = titled_table(f"{n}-gram overlap, rule {rule}; {result.settings['train_documents']:,} training documents")
    for column in ("eval set", "items", "contaminated", "%", "mean overlap", "exact-match items", "with boilerplate"):
        table.add_column(column, justify="left" if column == "eval set" else "right")
    for row in summary.itertuples(index=False):
        table.add_row(str(row.eval_set), str(row.items), str(row.contaminated), f"{100 * row.share:.1f}",
                      f"{row.mean_overlap:.3f}", str(row.exact_match_items), str(row.with_boilerplate))
    console.print(table)
    for row in result.flagged.sort_values("overlap", ascending=False).head(5).itertuples():
        ev = row.evidence
        console.print(f"  {row.eval_set}/{row.item_id} overlap {row.overlap:.2f}: \"{ev['span'][:80]}\" "
                      f"<- {Path(ev['shard']).name} doc {ev['document']} @ {ev['offset']}", soft_wrap=True)
    console.print(f"boilerplate n-grams (in >= {result.settings['boilerplate_docs']} documents, not counted): "
                  f"{len(result.boilerplate)}")
    figure = Figure("data", "Contaminated items per eval set", "bar", {
        "x_label": "eval set", "y_label": "% of items", "categories": summary["eval_set"].tolist(),
        "series": [{"name": f"rule {rule}", "values": (100 * summary["share"]).tolist()}]})
    report = Report(title=f"contamination: {', '.join(evals)} in {', '.join(train)}",
                    findings=tuple(result.findings()), figures=(figure,))
    write_report_outputs(report, html, json_path)
    if csv_path is not None:
        from fourlens._io import write_atomic

        items = result.items.assign(evidence=result.items["evidence"].map(lambda e: "" if e is None else str(e)))
        write_atomic(csv_path, items.to_csv(index=False))
        console.print(f"items: {csv_path}")


