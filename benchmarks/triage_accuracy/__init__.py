"""Accuracy of `fourlens triage` on generated scenarios laid out as users keep their evidence, each with
0, 1 or 2 planted causes from the catalogue (catalogue.py). See benchmarks/README.md "Triage accuracy"."""

from benchmarks.triage_accuracy.catalogue import CAUSES, Accept, Cause, Planted
from benchmarks.triage_accuracy.runner import run_one
from benchmarks.triage_accuracy.scenario import causes_for, generate
from benchmarks.triage_accuracy.scoring import cause_rank, matches, score_scenario, summarize

__all__ = ["CAUSES", "Accept", "Cause", "Planted", "cause_rank", "causes_for", "generate", "matches", "run_one",
           "score_scenario", "summarize"]
