"""Build the demo workspace: two checkpoints' bundles from real training runs with planted faults.

- baseline: balanced data mix, clean learning-rate schedule;
- candidate: the "code" domain cut from 33% to 8% of the data mix, and a learning-rate fault (25x
  for 4 steps at step 450, a botched restart).
Each bundle holds the run's scalar log (CSV for the baseline, JSONL for the candidate), item-level
eval results on the same held-out items, the weights (safetensors), a data snapshot (generated
documents whose `domain` field follows the run's data mix) and a fourlens.toml.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from fourlens._io import write_atomic
from fourlens.demo.tinytask import DOMAINS, TrainConfig, evaluate, teachers, train
from fourlens.errors import BadInputError

BASELINE = TrainConfig(seed=0)
CANDIDATE = TrainConfig(seed=0, domain_mix=(0.46, 0.08, 0.46), lr_fault_step=450, lr_fault_factor=25.0,
                        lr_fault_length=4)


@dataclass(frozen=True)
class Workspace:
    root: Path
    baseline: Path
    candidate: Path


def build_workspace(root: str | Path, overwrite: bool = False) -> Workspace:
    """Train both runs and write their bundles under `root` (refuses to overwrite unless asked)."""
    root = Path(root)
    baseline_dir, candidate_dir = root / "baseline", root / "candidate"
    for directory in (baseline_dir, candidate_dir):
        if directory.exists() and any(directory.iterdir()) and not overwrite:
            raise BadInputError(f"{directory} already exists and is not empty; choose another --out or pass "
                                "--overwrite to replace the demo files in it")
    rules = teachers()
    for directory, config, name, log_format in ((baseline_dir, BASELINE, "ckpt-baseline", "csv"),
                                                (candidate_dir, CANDIDATE, "ckpt-candidate", "jsonl")):
        model, log = train(config, rules)
        _write_bundle(directory, name, model, log, evaluate(model, rules), log_format)
        _write_snapshot(directory, config, seed=int(directory == candidate_dir))
    return Workspace(root=root, baseline=baseline_dir, candidate=candidate_dir)


def _write_bundle(directory: Path, name: str, model, log: list[dict], items: list[dict], log_format: str) -> None:
    from safetensors.torch import save

    (directory / "logs").mkdir(parents=True, exist_ok=True)
    if log_format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(log[0]))
        writer.writeheader()
        writer.writerows(log)
        write_atomic(directory / "logs" / "metrics.csv", buffer.getvalue())
    else:
        write_atomic(directory / "logs" / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in log))
    write_atomic(directory / "evals" / "items.jsonl", "".join(json.dumps(r) + "\n" for r in items))
    tensors = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    write_atomic(directory / "weights" / "model.safetensors", save(tensors))
    write_atomic(directory / "fourlens.toml", f'name = "{name}"\n')


def _write_snapshot(directory: Path, config: TrainConfig, seed: int) -> None:
    """The run's training-data snapshot: documents drawn with the run's domain mix (data lens evidence)."""
    from fourlens.data.synthetic import snapshot_documents

    docs = snapshot_documents(DOMAINS, config.domain_mix, n_docs=3000, seed=seed)
    write_atomic(directory / "data" / "snapshot.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
