"""A refusal in triage names the fourlens.toml option that lifts it: triage has no lens flags."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from rich.console import Console

from fourlens.errors import OptionAdviceError, message_for_manifest
from fourlens.triage import triage
from fourlens.triage.registry import available_lenses


class Config:
    """A Python object stored beside the weights, as training loops do."""

    def __init__(self, lr: float) -> None:
        self.lr = lr


def _bundle(root: Path, name: str, state: dict) -> Path:
    folder = root / name
    folder.mkdir()
    torch.save(state, folder / "model.pt")
    return folder


def test_refused_pickle_in_triage_names_the_manifest_option(tmp_path):
    weights = {"w": torch.ones(4, 4)}
    base = _bundle(tmp_path, "base", OrderedDict(weights))
    cand = _bundle(tmp_path, "cand", {**weights, "config": Config(0.1)})
    specs = [spec for spec in available_lenses() if spec.name == "weights"]
    report = triage(base, cand, lenses=specs)
    (status,) = [s for s in report.lenses if s.name == "weights"]
    assert status.state == "failed"
    assert "set trust_pickle = true under [options.weights] in the candidate bundle's fourlens.toml" in status.message
    assert "--trust-pickle" not in status.message and "Re-running" not in status.message
    console = Console(record=True, width=400)
    report.print(console=console)
    assert "under [options.weights] in" in console.export_text()   # the table name is not eaten as markup
    # and the option named there is the one the lens reads
    (cand / "fourlens.toml").write_text("[options.weights]\ntrust_pickle = true\n")
    report = triage(base, cand, lenses=specs)
    (status,) = [s for s in report.lenses if s.name == "weights"]
    assert status.state == "ok", status.message


def test_option_advice_spells_the_option_per_caller():
    exc = OptionAdviceError("x.jsonl: bad", option="text_field", value='"FIELD"', flag="--text-field FIELD",
                            purpose="to read another field")
    assert str(exc) == "x.jsonl: bad; to read another field, pass --text-field FIELD (`text_field` in Python)"
    assert message_for_manifest(exc, "data") == ('x.jsonl: bad; to read another field, set text_field = "FIELD" '
                                                 "under [options.data] in the candidate bundle's fourlens.toml")
    assert message_for_manifest(ValueError("plain"), "data") == "plain"
