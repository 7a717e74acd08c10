"""Grad-CAM maps/second: fourlens vs the real pytorch-grad-cam package, side by side, interleaved.

pytorch-grad-cam (`grad-cam` on PyPI) needs torchvision, which does not import beside the CPU torch of
fourlens's venv, so it runs in its own environment, built once outside the repository:

    python3 -m venv /tmp/gradcam-env
    /tmp/gradcam-env/bin/pip install torch==2.14.1 torchvision==0.29.1 grad-cam safetensors

Run:  .venv/bin/python benchmarks/vision/bench_gradcam_peer.py [--peer-python /tmp/gradcam-env/bin/python]
Writes benchmarks/results/vision_gradcam_peer.json.

This driver saves the ResNet-18-shaped net (benchmarks/vision/resnet.py, seed 0) and the input batch
(8 images, 224 px) as safetensors, then starts two long-lived worker processes, one per environment,
each loading the same file. Each round it asks one worker, then the other, for one timed call (so
both see the same machine load); process start-up and the first (warm-up) call are not timed. Both
produce the same thing: 224x224 maps, ReLU'd and min-max scaled per image, at `layer4`, for a given
class per image; fourlens's time includes `heatmap()` to get there. The maps are compared too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "vision_gradcam_peer.json"


def worker(kind: str, name: str, folder: Path, threads: int) -> None:
    """Load model and inputs, warm up, then answer each 'run' line on stdin with one timed call."""
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(HERE))
    from resnet import ResNet18

    torch.set_num_threads(threads)
    model = ResNet18().eval()
    model.load_state_dict(load_file(str(folder / "resnet18.safetensors")))
    data = load_file(str(folder / "inputs.safetensors"))
    x, target = data["x"], data["target"]
    if kind == "fourlens":
        from fourlens.vision import grad_cam

        def call() -> torch.Tensor:
            return grad_cam(model, x, target, layer="layer4").heatmap(size=(224, 224))
    else:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        def call() -> torch.Tensor:
            with GradCAM(model=model, target_layers=[model.layer4]) as cam:
                maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in target])
            return torch.from_numpy(maps)

    maps = call()  # warm-up, and the maps to compare
    save_file({"maps": maps.float().contiguous()}, str(folder / f"maps_{name}.safetensors"))
    print(f"ready {torch.__version__}", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        start = time.perf_counter()
        call()
        print(time.perf_counter() - start, flush=True)


def drive(args: argparse.Namespace) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(HERE))
    from resnet import resnet18

    folder = Path(tempfile.mkdtemp(prefix="fourlens-gradcam-"))
    model = resnet18(seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "resnet18.safetensors"))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.images, 3, 224, 224, generator=g)
    target = torch.arange(args.images) * 3 + 1
    save_file({"x": x, "target": target}, str(folder / "inputs.safetensors"))
    # name -> (python, worker kind). fourlens also runs in the peer's environment when it is installed
    # there (`pip install --no-deps -e .`), so one comparison uses the very same torch build.
    contenders = {"fourlens": (sys.executable, "fourlens"), "pytorch_grad_cam": (args.peer_python, "peer")}
    probe = subprocess.run([args.peer_python, "-c", "import fourlens.vision"], capture_output=True)
    if probe.returncode == 0:
        contenders["fourlens_in_peer_env"] = (args.peer_python, "fourlens")
    procs, versions = {}, {}
    for name, (python, kind) in contenders.items():
        procs[name] = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", kind, "--name", name, "--folder", str(folder),
             "--threads", str(args.threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        versions[name] = procs[name].stdout.readline().split()[-1]  # waits for "ready <torch version>"
    times: dict[str, list[float]] = {kind: [] for kind in procs}
    try:
        for _ in range(args.rounds):
            for kind, proc in procs.items():
                proc.stdin.write("run\n")
                proc.stdin.flush()
                times[kind].append(float(proc.stdout.readline()))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait(timeout=60)
    maps = {name: load_file(str(folder / f"maps_{name}.safetensors"))["maps"] for name in procs}
    shutil.rmtree(folder)
    ours, theirs = maps["fourlens"], maps["pytorch_grad_cam"]
    corr = [torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item() for a, b in zip(ours, theirs,
                                                                                               strict=True)]
    best = {kind: min(values) for kind, values in times.items()}
    result = {
        "images": args.images, "size": 224, "layer": "layer4", "threads_per_process": args.threads,
        "rounds": args.rounds, "torch": versions, "python": platform.python_version(),
        "best_s": best, "all_s": times,
        "maps_per_s": {kind: args.images / seconds for kind, seconds in best.items()},
        "ratio_over_pytorch_grad_cam": {name: seconds / best["pytorch_grad_cam"] for name, seconds in best.items()},
        "map_correlation_min": min(corr), "map_max_abs_diff": (ours - theirs).abs().max().item(),
        "load_average": os.getloadavg(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    for name, seconds in best.items():
        print(f"{name:22s} torch {versions[name]:14s} best {seconds:7.3f} s  {args.images / seconds:6.2f} maps/s  "
              f"ratio {seconds / best['pytorch_grad_cam']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-python", default="/tmp/gradcam-env/bin/python",
                        help="python of the environment with grad-cam installed")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["fourlens", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.name, args.folder, args.threads)
    else:
        if not Path(args.peer_python).exists():
            sys.exit(f"no python at {args.peer_python}: build the grad-cam environment first (see the docstring)")
        drive(args)


if __name__ == "__main__":
    main()
