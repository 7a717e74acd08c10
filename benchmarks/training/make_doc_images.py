"""Render the training lens's figures for docs/training.md (needs /usr/bin/chromium; not part of the tests).

    .venv/bin/python benchmarks/training/make_doc_images.py

Writes docs/img/training/panels.png (the loss / grad-norm / LR panels of `fourlens training check`, with
the anomalies marked) and scaling.png (the Chinchilla fit on Epoch AI's data with a checkpoint).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from fourlens.report.plotting import to_plotly
from fourlens.training import detect
from fourlens.training.figures import scaling_figure, signal_panels
from fourlens.training.scaling import fit_chinchilla, fit_compute_law, load_scaling_runs
from fourlens.training.synthetic import synthetic_log

ROOT = Path(__file__).resolve().parents[2]
EPOCH_CSV = ROOT / "tests" / "training" / "fixtures" / "chinchilla" / "chinchilla_approach3.csv"
OUT = ROOT / "docs" / "img" / "training"


def shoot(figures, name: str, height: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        parts = [to_plotly(f).to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures)]
        page.write_text("<html><body style='margin:0;background:white'>" + "".join(parts) + "</body></html>")
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size=1000,{height}", "--virtual-time-budget=8000",
                        f"--screenshot={OUT / name}", page.as_uri()], check=True, capture_output=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    run, _ = synthetic_log(3000, ("spike", "warmup_restart", "dead_expert"), seed=4)
    panels = [f for f in signal_panels(run, detect(run)) if f.title.split(" ")[0] in ("loss", "grad_norm", "lr")]
    shoot(panels, "panels.png", 370 * len(panels))
    runs = load_scaling_runs(EPOCH_CSV).sort_values("loss").iloc[:-5]
    fit = fit_chinchilla(runs["n_params"], runs["n_tokens"], runs["loss"], n_bootstrap=0)
    law = fit_compute_law(runs["flops"], runs["loss"])
    shoot([scaling_figure(runs, fit, law, {"n_params": 70e9, "n_tokens": 1.4e12, "loss": 2.05})], "scaling.png", 380)


if __name__ == "__main__":
    main()
