"""Runs directories: one bundle per checkpoint, a timeline of what each measures, and bisection of
where a change began. The dashboard (`fourlens serve RUNS_DIR`) is built on these."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".bisect": ("finding_key", "finding_onsets", "first_index", "flip_onsets"),
    ".directory": ("Checkpoint", "RunsDirectory", "check_runs_root", "fingerprint", "step_from"),
    ".timeline": ("bootstrap_mean_interval", "checkpoint_metrics", "timeline_rows", "training_run"),
})
