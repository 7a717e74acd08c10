"""The per-lens command groups: each lens's own commands, or, where this installation lacks a lens's
command module, a group that says what the lens covers."""

from __future__ import annotations

import typer

LENS_GROUPS = {  # command group -> what the lens covers
    "vision": ("CNN interpretation: saliency, integrated gradients, occlusion, CAM/Grad-CAM, class-model "
               "visualization, dataset search, deconvnet."),
    "transformer": "Transformer representation: attention views, head scores, logit lens, embeddings, "
                   "checkpoint comparison.",
    "weights": "Streaming comparison of two checkpoints' tensors (safetensors, torch state dicts).",
    "training": "Training logs: TensorBoard/CSV/JSONL/W&B/MLflow readers, anomaly detection, scaling laws.",
    "evals": "Behavior: paired item-level comparison of eval results, safety, agent latency.",
    "data": "Data: domain-mix drift, token statistics, contamination.",
}


# The `evals` command group is the behavior lens's; every other group is named after its package.
GROUP_PACKAGES = {"evals": "behavior"}


def lens_group(name: str) -> typer.Typer:
    """The lens's own Typer app (`fourlens.<name>.cli:app`) when installed, else `unavailable_group`.

    Lens CLI modules keep heavy imports (torch, transformers) inside their commands, so building the
    whole command tree stays fast."""
    import importlib
    import importlib.util

    module_name = f"fourlens.{GROUP_PACKAGES.get(name, name)}.cli"
    try:
        found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        found = False
    if found:
        return importlib.import_module(module_name).app
    return unavailable_group(name)


def unavailable_group(name: str) -> typer.Typer:
    """The group of a lens whose commands are not in this installation: `fourlens NAME` says what the
    lens covers and that triage runs the lenses there are."""
    summary = LENS_GROUPS[name]
    group = typer.Typer(help=f"{summary} (not in this installation; `fourlens triage` runs the lenses it has)",
                        no_args_is_help=False, invoke_without_command=True)

    @group.callback()
    def _explain(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            typer.echo(f"fourlens {name}: {summary}\nThis installation has no {name} commands; "
                       "`fourlens triage BASELINE CANDIDATE` runs the lenses it has.")

    return group
