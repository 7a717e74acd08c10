"""The CAM family vs the real pytorch-grad-cam package: the same maps, and the time each takes, interleaved.

pytorch-grad-cam (`grad-cam` on PyPI) needs torchvision, which does not import beside the CPU torch of
fourlens's venv, so it runs in its own environment, built once outside the repository:

    python3 -m venv /tmp/gradcam-env
    /tmp/gradcam-env/bin/pip install torch==2.14.1 torchvision==0.29.1 grad-cam safetensors

Run:  .venv/bin/python benchmarks/vision/bench_gradcam_peer.py [--peer-python /tmp/gradcam-env/bin/python]
      [--methods grad_cam,score_cam] [--check-only]
Writes benchmarks/results/vision_gradcam_peer.json (with --check-only: vision_gradcam_peer_check.json;
`--out NAME` writes benchmarks/results/NAME instead).

The driver saves the ResNet-18-shaped net (benchmarks/vision/resnet.py, seed 0) and the input batch
(224 px) as safetensors and starts one long-lived worker per contender: fourlens in this venv,
pytorch-grad-cam in its environment, and fourlens in the peer's environment too (same torch build; the
worker imports this checkout's `src`). Each round asks every worker in turn for one timed call of each
method (so all see the same machine load); start-up and a first warm-up call are not timed. Both sides
produce the same thing: maps at the image's size, ReLU'd and min-max scaled per image; fourlens's time
includes its `heatmap()` presentation step. The warm-up call's maps are compared with the peer's after
presenting fourlens's raw values the peer's way (ReLU, min-max, bilinear resize, min-max).
Score-CAM and Ablation-CAM evaluate the model once per channel (512 at `layer4`), so they run on the
first `--slow-images` images for `--slow-rounds` rounds.
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
ROOT = HERE.parents[1]
RESULTS = HERE.parent / "results"
PEER_CLASSES = {"grad_cam": "GradCAM", "grad_cam_plus_plus": "GradCAMPlusPlus", "hirescam": "HiResCAM",
                "xgrad_cam": "XGradCAM", "layer_cam": "LayerCAM", "eigen_cam": "EigenCAM",
                "eigen_grad_cam": "EigenGradCAM", "score_cam": "ScoreCAM", "ablation_cam": "AblationCAM",
                "fullgrad": "FullGrad"}
SLOW = ("score_cam", "ablation_cam")
# fourlens settings that reproduce the peer's convention where it differs from fourlens's default
AS_PEER = {"eigen_cam": {"sign": "numpy"}, "eigen_grad_cam": {"sign": "numpy"}}


def peer_style(values, size):
    """fourlens's raw maps (n, h, w) presented as pytorch-grad-cam presents its own: ReLU, min-max per
    image, bilinear resize (half-pixel centres, as cv2.resize), min-max again."""
    import torch
    from torch.nn import functional as F

    def minmax(maps):
        low = maps.flatten(1).amin(1).view(-1, 1, 1)
        shifted = maps - low
        return shifted / (1e-7 + shifted.flatten(1).amax(1).view(-1, 1, 1))

    cam = minmax(values.detach().float().clamp(min=0))
    if tuple(cam.shape[-2:]) != tuple(size):
        cam = F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return minmax(cam).to(torch.float32)


def worker(kind: str, name: str, folder: Path, threads: int, methods: list[str]) -> None:
    """Load model and inputs, warm up each method, then answer 'run METHOD' lines with one timed call."""
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(HERE))
    from resnet import ResNet18

    torch.set_num_threads(threads)
    data = load_file(str(folder / "inputs.safetensors"))
    models = {}
    for variant in ("benchmark", "downsample_last"):
        model = ResNet18(downsample_last=variant == "downsample_last").eval()
        model.load_state_dict(load_file(str(folder / "resnet18.safetensors")))
        models[variant] = model

    def make(method: str, model, x, target):
        if kind == "fourlens":
            from fourlens.vision import METHODS

            fn = METHODS[method]
            layer = {} if method == "fullgrad" else {"layer": "layer4"}

            def call(settings=None):
                result = fn(model, x, target, **layer, **(settings or {}))
                return result, result.heatmap(size=(224, 224))
            return call
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        cls = getattr(pytorch_grad_cam, PEER_CLASSES[method])

        def call(settings=None):
            with cls(model=model, target_layers=[model.layer4]) as cam:
                maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in target])
            return None, torch.from_numpy(maps)
        return call

    calls, saved = {}, {}
    for method in methods:
        count = data["slow_images"].item() if method in SLOW else data["x"].shape[0]
        x, target = data["x"][:count], data["target"][:count]
        calls[method] = make(method, models["benchmark"], x, target)
        for variant, model in models.items():
            call = make(method, model, x, target) if variant != "benchmark" else calls[method]
            if variant != "benchmark" and method != "fullgrad":
                continue  # the second variant only checks FullGrad's pairing of biases and gradients
            result, maps = call(AS_PEER.get(method))  # the warm-up, and the maps to compare
            if result is not None:
                maps = peer_style(result.values, (224, 224))
            saved[f"{method}/{variant}"] = maps.float().contiguous()
    save_file(saved, str(folder / f"maps_{name}.safetensors"))
    print(f"ready {torch.__version__}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] != "run":
            break
        start = time.perf_counter()
        calls[words[1]]()
        print(time.perf_counter() - start, flush=True)


def read_seconds(proc: subprocess.Popen) -> float:
    """The worker's answer; pytorch-grad-cam prints warnings on stdout (FullGrad's on every call): skip them."""
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("a worker stopped before answering")
        try:
            return float(line)
        except ValueError:
            continue


def compare(maps: dict, names: list[str], methods: list[str]) -> dict:
    import torch

    out = {}
    for key in maps[names[0]]:
        method = key.split("/")[0]
        if method not in methods:
            continue
        theirs = maps["pytorch_grad_cam"][key]
        for name in names:
            if name == "pytorch_grad_cam":
                continue
            ours = maps[name][key]
            corr = [torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()
                    for a, b in zip(ours, theirs, strict=True)]
            out.setdefault(key, {})[name] = {"max_abs_diff": (ours - theirs).abs().max().item(),
                                              "mean_abs_diff": (ours - theirs).abs().mean().item(),
                                              "min_correlation": min(corr)}
    return out


def drive(args: argparse.Namespace) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(HERE))
    from resnet import resnet18

    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in PEER_CLASSES]
    if unknown:
        sys.exit(f"unknown methods {unknown}; choose from {', '.join(PEER_CLASSES)}")
    folder = Path(tempfile.mkdtemp(prefix="fourlens-gradcam-"))
    model = resnet18(seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "resnet18.safetensors"))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.images, 3, 224, 224, generator=g)
    target = torch.arange(args.images) * 3 + 1
    save_file({"x": x, "target": target, "slow_images": torch.tensor(args.slow_images)},
              str(folder / "inputs.safetensors"))
    # name -> (python, worker kind, extra environment)
    peer_env = {"PYTHONPATH": str(ROOT / "src")}  # this checkout's fourlens, in either environment
    contenders = {"fourlens": (sys.executable, "fourlens", peer_env),
                  "pytorch_grad_cam": (args.peer_python, "peer", {})}
    probe = subprocess.run([args.peer_python, "-c", "import fourlens.vision"], capture_output=True,
                           env=os.environ | peer_env)
    if probe.returncode == 0:
        contenders["fourlens_in_peer_env"] = (args.peer_python, "fourlens", peer_env)
    procs, versions = {}, {}
    for name, (python, kind, extra) in contenders.items():
        procs[name] = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", kind, "--name", name, "--folder", str(folder),
             "--threads", str(args.threads), "--methods", ",".join(methods)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ | extra)
        line = procs[name].stdout.readline()
        while not line.startswith("ready"):  # waits for "ready <torch version>", past printed warnings
            line = procs[name].stdout.readline()
        versions[name] = line.split()[-1]
    load_start = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {m: {name: [] for name in procs} for m in methods}
    try:
        for round_ in range(0 if args.check_only else args.rounds):
            for method in methods:
                if method in SLOW and round_ >= args.slow_rounds:
                    continue
                for name, proc in procs.items():
                    proc.stdin.write(f"run {method}\n")
                    proc.stdin.flush()
                    times[method][name].append(read_seconds(proc))
            print(f"round {round_ + 1} done", flush=True)
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait(timeout=120)
    maps = {name: load_file(str(folder / f"maps_{name}.safetensors")) for name in procs}
    shutil.rmtree(folder)
    result = {
        "images": args.images, "slow_images": args.slow_images, "size": 224, "layer": "layer4",
        "threads_per_process": args.threads, "rounds": args.rounds, "slow_rounds": args.slow_rounds,
        "torch": versions, "python": platform.python_version(), "fourlens_settings_for_maps": AS_PEER,
        "maps": compare(maps, list(procs), methods),
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
    }
    if not args.check_only:
        result["methods"] = {}
        for method in methods:
            best = {name: min(values) for name, values in times[method].items()}
            count = args.slow_images if method in SLOW else args.images
            result["methods"][method] = {
                "images": count, "best_s": best, "all_s": times[method],
                "maps_per_s": {name: count / seconds for name, seconds in best.items()},
                "ratio_over_pytorch_grad_cam": {name: s / best["pytorch_grad_cam"] for name, s in best.items()}}
    path = RESULTS / (args.out or ("vision_gradcam_peer_check.json" if args.check_only else "vision_gradcam_peer.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    for key, rows in result["maps"].items():
        for name, row in rows.items():
            print(f"{key:32s} {name:22s} max |diff| {row['max_abs_diff']:.2e}  min corr {row['min_correlation']:.6f}")
    for method, row in result.get("methods", {}).items():
        print(f"{method:20s} " + "  ".join(f"{name} {s:.3f} s ({row['ratio_over_pytorch_grad_cam'][name]:.2f})"
                                             for name, s in row["best_s"].items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-python", default="/tmp/gradcam-env/bin/python",
                        help="python of the environment with grad-cam installed")
    parser.add_argument("--methods", default=",".join(PEER_CLASSES))
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--slow-images", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slow-rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-only", action="store_true", help="compare the maps, time nothing")
    parser.add_argument("--out", help="results file name under benchmarks/results (default by mode)")
    parser.add_argument("--worker", choices=["fourlens", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.name, args.folder, args.threads, args.methods.split(","))
    else:
        if not Path(args.peer_python).exists():
            sys.exit(f"no python at {args.peer_python}: build the grad-cam environment first (see the docstring)")
        drive(args)


if __name__ == "__main__":
    main()
