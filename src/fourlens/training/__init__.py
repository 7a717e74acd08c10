"""Training lens: read scalar logs (TensorBoard, CSV/JSONL), find what went wrong, check the scaling law."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".diagnose": ("DiagnoseConfig", "anomalies", "checkpoint_context", "detect", "diagnose"),
    ".run": ("Run", "list_runs", "load_run", "run_from_frame"),
    ".signals": ("DEFAULT_ALIASES",),
    ".spikes": ("SpikeEvent", "detect_spikes", "nonfinite_steps"),
})
