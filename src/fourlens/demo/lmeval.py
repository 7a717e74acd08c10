"""Score a checkpoint's model folder with lm-evaluation-harness itself, offline on the CPU.

The demo writes task YAMLs over local JSONL files (lm-eval's `json` dataset builder reads them; nothing
is downloaded) and runs `python -m lm_eval --model hf ... --include_path TASKS --log_samples`, which
writes `results_<timestamp>.json` and one `samples_<task>_<timestamp>.jsonl` per task under
`<output>/model/`: the files the behavior lens and the contamination scan read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fourlens._io import write_atomic
from fourlens.demo.evalsets import ArithmeticItem, WordProblem
from fourlens.errors import BadInputError, MissingDependencyError

TASKS = ("demo_arith", "demo_wordprob")
GENERATE = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{prompt}"
doc_to_target: "{target}"
generation_kwargs:
  until: {until}
  max_gen_toks: {max_tokens}
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
filter_list:
  - name: {filter_name}
    filter:
      - function: regex
        regex_pattern: "{pattern}"
      - function: take_first
metadata:
  version: 1.0
"""


def write_tasks(directory: Path, problems: list[WordProblem], facts: list[ArithmeticItem]) -> Path:
    """Task YAMLs and their JSONL items in `directory`: `demo_arith` (the sums and differences the
    worksheets teach, "7 + 2 =") and `demo_wordprob` (word problems with a worked answer)."""
    arith = directory / "arith.jsonl"
    write_atomic(arith, "".join(json.dumps({"a": f.a, "op": f.op, "b": f.b, "answer": f.answer,
                                            "category": f.category}) + "\n" for f in facts))
    write_atomic(directory / "arith.yaml", GENERATE.format(
        task="demo_arith", data=arith.resolve(), prompt="{{a}} {{op}} {{b}} =", target="{{answer}}",
        until='["\\n"]', max_tokens=4, filter_name="first_number", pattern="(-?[0-9]+)"))
    wordprob = directory / "wordprob.jsonl"
    write_atomic(wordprob, "".join(json.dumps({"question": p.question, "answer": p.answer, "final": p.final,
                                               "category": p.category}) + "\n" for p in problems))
    write_atomic(directory / "wordprob.yaml", GENERATE.format(
        task="demo_wordprob", data=wordprob.resolve(), prompt="Question: {{question}}\\nAnswer:",
        target="{{final}}", until='["\\n\\n", "Question:", "<|endoftext|>"]', max_tokens=40,
        filter_name="final_number", pattern="The answer is (-?[0-9]+)"))
    return directory


@dataclass
class LmEvalRun:
    """A harness run in progress (a child process); `wait()` returns the files it wrote."""

    model_dir: Path
    output: Path
    process: subprocess.Popen
    log: Path

    def wait(self) -> list[Path]:
        code = self.process.wait()
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""
        self.log.unlink(missing_ok=True)
        if code != 0:
            tail = "\n".join(text.strip().splitlines()[-15:])
            raise BadInputError(f"lm-evaluation-harness failed on {self.model_dir} (exit {code}):\n{tail}")
        written = sorted(self.output.rglob("*.json*"))
        if not any(p.name.startswith("samples_") for p in written):
            raise BadInputError(f"lm-evaluation-harness wrote no samples file under {self.output}")
        return written


def start_lm_eval(model_dir: Path, tasks_dir: Path, output: Path, hf_home: Path, batch_size: int = 64) -> LmEvalRun:
    """Start the harness on `model_dir` (a HF folder) in a child process and return at once, so the
    checkpoints are scored side by side (one thread each) while this process red-teams them."""
    try:
        import lm_eval  # noqa: F401 - only to fail early with the extra's name
    except ImportError as exc:
        raise MissingDependencyError("lm_eval", "demo", "scoring the demo checkpoints with lm-evaluation-harness") \
            from exc
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HOME": str(hf_home), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_TELEMETRY": "1",
           # one thread: a model this small gains nothing from more, and they fight over shared cores
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # Run from the model's parent with a relative path, so lm-eval names its output folder "model"
    # rather than after this machine's absolute path.
    command = [sys.executable, "-m", "lm_eval", "--model", "hf",
               "--model_args", f"pretrained={model_dir.name},dtype=float32", "--device", "cpu",
               "--include_path", str(tasks_dir.resolve()), "--tasks", ",".join(TASKS), "--batch_size", str(batch_size),
               "--log_samples", "--output_path", str(output.resolve()), "--seed", "0"]
    output.mkdir(parents=True, exist_ok=True)
    log = output / ".lm_eval.log"
    with open(log, "wb") as sink:   # a file, not a pipe: nobody reads while it runs
        process = subprocess.Popen(command, cwd=model_dir.parent, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return LmEvalRun(model_dir, output, process, log)


def run_lm_eval(model_dir: Path, tasks_dir: Path, output: Path, hf_home: Path, batch_size: int = 64) -> list[Path]:
    """Run the harness on `model_dir` (a HF folder) and return the files it wrote under `output`."""
    return start_lm_eval(model_dir, tasks_dir, output, hf_home, batch_size).wait()
