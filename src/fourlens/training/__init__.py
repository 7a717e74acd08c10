"""Training lens: read scalar logs (TensorBoard, CSV/JSONL), find what went wrong, check the scaling law."""

from fourlens.training.diagnose import DiagnoseConfig, anomalies, checkpoint_context, detect, diagnose
from fourlens.training.run import Run, load_run, run_from_frame
from fourlens.training.signals import DEFAULT_ALIASES
from fourlens.training.spikes import SpikeEvent, detect_spikes, nonfinite_steps

__all__ = ["DEFAULT_ALIASES", "DiagnoseConfig", "Run", "SpikeEvent", "anomalies", "checkpoint_context", "detect",
           "detect_spikes", "diagnose", "load_run", "nonfinite_steps", "run_from_frame"]
