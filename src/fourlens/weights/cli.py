"""`fourlens weights compare A B`: the streaming checkpoint comparison on the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from fourlens._io import guard_output
from fourlens.cli_errors import user_errors

app = typer.Typer(help="Streaming comparison of two checkpoints' tensors (safetensors, torch state dicts).",
                  no_args_is_help=True)
GENERATOR = "fourlens.weights"


@app.callback()
def _group() -> None:
    """Streaming comparison of two checkpoints' tensors (safetensors, torch state dicts)."""


@app.command("compare")
@user_errors
def compare_command(
    a: Path = typer.Argument(..., help="Baseline: .safetensors, *.index.json, .bin/.pt/.pth/.ckpt, or a directory."),
    b: Path = typer.Argument(..., help="Candidate, in any of the same forms."),
    json_path: Path | None = typer.Option(None, "--json", help="Write every tensor's and layer's numbers here."),
    top: int = typer.Option(15, "--top", min=1, help="Rows to print in the tensor and layer tables."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle",
                                      help="Allow a full unpickle of .bin/.pt files (only for files you trust)."),
    layer_pattern: str | None = typer.Option(None, "--layer-pattern",
                                             help="Regex whose first group names a tensor's layer."),
) -> None:
    """Per-tensor and per-layer relative change ||b - a|| / ||a||, norms, NaN/Inf, structure changes."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from fourlens.weights.compare import compare

    guard_output(json_path, f'"generator": "{GENERATOR}"'.encode(), option="json")
    console = Console()
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("comparing", total=None)

        def advance(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=name[-40:])

        result = compare(a, b, trust_pickle=trust_pickle, layer_pattern=layer_pattern, progress=advance)
    _print(console, result, top)
    if json_path is not None:
        from fourlens._io import write_atomic

        payload = {"generator": GENERATOR, **result.to_dict()}
        write_atomic(json_path, json.dumps(payload, indent=1))
        console.print(f"JSON: {json_path}")


def _fmt(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _print(console, result, top: int) -> None:
    from fourlens.report.terminal import titled_table

    s = result.summary()
    console.print(f"[bold]{result.a}[/] -> [bold]{result.b}[/]: {s['n_paired']} floating-point tensors compared "
                  f"({s['bytes_read'] / 1e6:,.1f} MB in {s['seconds']:.2f} s); overall relative change "
                  f"{_fmt(s['global_rel_change'])}; {s['n_missing_in_b']} missing, {s['n_extra_in_b']} extra, "
                  f"{s['n_shape_mismatches']} reshaped, {s['n_dtype_changes']} dtype changes, "
                  f"NaN/Inf: {s['nonfinite_a']} in a, {s['nonfinite_b']} in b", highlight=False)
    if s["n_nonfloat"]:
        changed = s["nonfloat_changed"]
        console.print(f"integer/bool tensors (buffers, not in the relative change): {s['n_nonfloat']}, "
                      f"{s['n_nonfloat'] - len(changed)} equal, {len(changed)} changed"
                      + (f": {', '.join(changed[:8])}" + (" ..." if len(changed) > 8 else "") if changed else ""),
                      highlight=False)
    shown = result.top(top)
    tensors = titled_table(f"top {top} tensors by relative change")
    longest = max((len(name) for name in shown["name"]), default=4)
    tensors.add_column("name", min_width=min(longest, 40), overflow="fold")
    for column in ("shape", "dtype", "rel_change", "cosine", "norm_a", "norm_b", "max|b-a|", "NaN/Inf b"):
        tensors.add_column(column, justify="left" if column in ("shape", "dtype") else "right")
    for row in shown.itertuples():
        dtype = row.dtype if row.dtype_b == row.dtype else f"{row.dtype}->{row.dtype_b}"
        tensors.add_row(row.name, "x".join(map(str, row.shape)) or "scalar", dtype, _fmt(row.rel_change),
                        _fmt(row.cosine), _fmt(row.norm_a), _fmt(row.norm_b), _fmt(row.max_abs_diff),
                        str(row.nonfinite_b))
    console.print(tensors)
    layers = titled_table(f"layers ({min(top, len(result.layers))} of {len(result.layers)}, largest change first)")
    for column in ("layer", "tensors", "rel_change", "norm_a", "norm_b", "NaN/Inf b", "mismatched"):
        layers.add_column(column, justify="left" if column == "layer" else "right", overflow="fold")
    ranked = result.layers.sort_values("rel_change", ascending=False, kind="stable", na_position="last")
    for row in ranked.head(top).itertuples():
        layers.add_row(row.layer, str(row.n_tensors), _fmt(row.rel_change), _fmt(row.norm_a), _fmt(row.norm_b),
                       str(row.nonfinite_b), str(row.n_mismatched))
    console.print(layers)
    for finding in sorted(result.findings(), key=lambda f: -f.score):
        console.print(f"[bold]{finding.severity:.2f}[/] {finding.title}", highlight=False)
