"""The demo case: a small Llama whose new checkpoint regressed, with its evidence in real formats."""

from fourlens.demo.runs import BASELINE_MIX, CANDIDATE_MIX, DemoConfig
from fourlens.demo.workspace import Workspace, build_workspace

__all__ = ["BASELINE_MIX", "CANDIDATE_MIX", "DemoConfig", "Workspace", "build_workspace"]
