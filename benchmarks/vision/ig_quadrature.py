"""Completeness error of integrated gradients per integration method and step count, vs Captum's default.

Run:  .venv/bin/python benchmarks/vision/ig_quadrature.py [--quick]
Writes benchmarks/results/vision_ig_quadrature.json. The question: which method reaches the
completeness error of Captum's default (Gauss-Legendre, 50 steps) with at most half the model passes?
Model passes = steps x images for every method (plus the same 2 x images end-point forwards for all).
Besides the completeness error it reports what matters more, the map's own error: the L1 distance to
a fine midpoint-rule reference, relative to the reference's L1 norm.
Two models: the trained zoo model (64 px) and the ResNet-18-shaped benchmark net (224 px, random
weights; a grey baseline there, since with bias-free convolutions and identity batch norms the
net is positively homogeneous, so from a black baseline the path never crosses a ReLU kink and every
rule is trivially exact), then a timing race (interleaved, best of 3) of `adaptive` vs Gauss-Legendre at 50 steps on the
ResNet, since adaptive refines in rounds of smaller batches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
from captum.attr import IntegratedGradients

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_attribution import race  # noqa: E402
from resnet import resnet18  # noqa: E402

from fourlens.demo.zoo import make_zoo, zoo_model  # noqa: E402
from fourlens.vision import integrated_gradients  # noqa: E402
from fourlens.vision.attribution import ig_adaptive as adaptive  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# "adaptive_sum": the adaptive rule ranking intervals by completeness error alone (not offered as a
# method: it lowers delta but makes the map less accurate; measured here to show it).
# "tangent_split": completeness made exact per interval (not offered either; see tangent_split()).
METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "adaptive", "adaptive_sum", "tangent_split",
           "secant")
# Step counts beyond the common list, per method: where the secant rule crosses Captum's 50-step map.
EXTRA_STEPS = {"adaptive": (100,), "riemann_trapezoid": (100,), "secant": (9, 13, 17, 100)}


def tangent_split(model, x, y, steps: int, baseline: float):
    """A rule that is exact for the *sum* on every interval, to show that |delta| can be bought cheaply.

    Uniform nodes 0..1 (as the trapezoid). For a piecewise-linear f with one kink inside [a, b], the
    kink sits where the tangents at a and b meet, a* = a + lam (b - a), and the exact integral of each
    pixel's gradient is lam h g(a) + (1 - lam) h g(b). lam solves lam d(a) + (1 - lam) d(b) =
    (f(b) - f(a)) / h, so every interval's completeness is exact whenever lam lands in [0, 1] (else
    clamped). With many kinks per interval lam is a guess shared by all pixels.
    """
    from types import SimpleNamespace

    from fourlens.vision.attribution._common import input_gradients

    base = torch.full_like(x, baseline)
    span = x - base
    alphas = torch.linspace(0, 1, steps, dtype=torch.float64)
    grads, f, d = [], [], []
    for a in alphas.tolist():
        g, logits = input_gradients(model, base + a * span, y[:, None])
        grads.append(g[:, 0])
        f.append(logits.gather(1, y[:, None])[:, 0].double())
        d.append((g[:, 0] * span).flatten(1).sum(1).double())
    grads, f, d = torch.stack(grads, 1), torch.stack(f, 1), torch.stack(d, 1)  # (n, S, ...), (n, S)
    h = alphas.diff()
    slope_change = d[:, :-1] - d[:, 1:]
    lam = ((f.diff(dim=1) / h - d[:, 1:]) / slope_change).nan_to_num(0.5)
    lam = torch.where(slope_change.abs() < 1e-12, 0.5, lam).clamp(0, 1)
    weights = torch.zeros_like(f)
    weights[:, :-1] += lam * h
    weights[:, 1:] += (1 - lam) * h
    values = torch.einsum("ns,ns...->n...", weights.to(grads.dtype), grads) * span
    with torch.no_grad():
        rise = model(x).gather(1, y[:, None])[:, 0] - model(base).gather(1, y[:, None])[:, 0]
    return SimpleNamespace(values=values, delta=values.flatten(1).sum(1) - rise)


def run(model, x, y, method: str, steps: int, baseline: float, batch_size: int = 32):
    if method == "tangent_split":
        return tangent_split(model, x, y, steps, baseline)
    if method == "adaptive_sum":
        return adaptive_sum(model, x, y, steps, baseline, batch_size)
    return integrated_gradients(model, x, y, steps=steps, method=method, baseline=baseline, batch_size=batch_size,
                                progress=False)


def adaptive_sum(model, x, y, steps: int, baseline: float, batch_size: int):
    """Adaptive node placement ranked by the completeness error alone (not offered as a method)."""
    from types import SimpleNamespace

    base = torch.full_like(x, baseline)
    span = x - base
    total, _passes = adaptive.adaptive_path_integral(model, base, span, y[:, None], steps, batch_size,
                                                     progress=False, indicator="sum")
    values = total[:, 0] * span
    with torch.no_grad():
        rise = model(x).gather(1, y[:, None])[:, 0] - model(base).gather(1, y[:, None])[:, 0]
    return SimpleNamespace(values=values, delta=values.flatten(1).sum(1) - rise)


def sweep(model, x, y, steps_list, extra_steps, reference_steps: int, baseline: float,
          methods: tuple[str, ...] = METHODS) -> dict:
    """Mean |delta| and the per-pixel error: sum |IG - IG_ref| / sum |IG_ref| against a fine midpoint rule."""
    with torch.no_grad():
        rise = (model(x).gather(1, y[:, None]) - model(torch.full_like(x, baseline)).gather(1, y[:, None])).abs()
    _, captum_delta = IntegratedGradients(model).attribute(x, baselines=baseline, target=y, n_steps=50,
                                                           return_convergence_delta=True)
    exact = run(model, x, y, "riemann_middle", reference_steps, baseline, batch_size=64)
    out = {"images": len(y), "baseline": baseline, "mean_abs_rise": rise.mean().item(),
           "reference": f"riemann_middle_{reference_steps}",
           "reference_mean_abs_delta": exact.delta.abs().mean().item(),
           "captum_gausslegendre_50": captum_delta.abs().mean().item(), "mean_abs_delta": {}, "map_error": {}}
    print("captum GL 50:", out["captum_gausslegendre_50"], "mean |f(x) - f(x')|:", out["mean_abs_rise"],
          "reference delta:", out["reference_mean_abs_delta"], flush=True)
    for method in methods:
        for steps in steps_list + (EXTRA_STEPS.get(method, ()) if extra_steps else ()):
            result = run(model, x, y, method, steps, baseline)
            key = f"{method}_{steps}"
            out["mean_abs_delta"][key] = result.delta.abs().mean().item()
            out["map_error"][key] = ((result.values - exact.values).abs().sum() / exact.values.abs().sum()).item()
            print(f"{method:18s} {steps:4d} delta {out['mean_abs_delta'][key]:.5f} map {out['map_error'][key]:.5f}",
                  flush=True)
    return out


RACED = (("gausslegendre", 50), ("adaptive", 50), ("secant", 25))


def race_rules(model, x, y, rounds: int) -> dict:
    """Gauss-Legendre and adaptive at 50 steps, secant at 25 (half the passes), interleaved
    (`bench_attribution.race`), best of `rounds`."""
    configs = {f"{method}_{steps}": (lambda m=method, s=steps: integrated_gradients(
        model, x, y, steps=s, method=m, baseline=0.5, progress=False)) for method, steps in RACED}
    timed = race(configs, rounds)
    return {"images": len(y), "batch_size": 64, "best_s": {k: timed[k] for k in configs},
            "all_s": timed["all_runs"]}


def half_passes(model, x, y, reference_steps: int = 1000, passes: int = 25) -> dict:
    """Map error at `passes` gradient passes of rules that might reach Captum's 50-step map error with half
    the passes: midpoint, adaptive, Simpson, midpoint nodes spread by the error density measured against
    the reference itself (an oracle), and midpoint with each interval corrected to be complete."""
    import numpy as np

    from fourlens.vision.attribution._common import input_gradients

    base = torch.zeros_like(x)
    span = x - base
    cache: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}

    def grad(a: float) -> tuple[torch.Tensor, torch.Tensor]:
        if a not in cache:
            g, logits = input_gradients(model, base + a * span, y[:, None])
            cache[a] = (g[:, 0], logits.gather(1, y[:, None])[:, 0])
        return cache[a]

    k = passes
    fine = torch.zeros(k, *x.shape)  # the reference's integral over each of the k uniform intervals
    for j in range(reference_steps):
        a = (j + 0.5) / reference_steps
        g, _ = input_gradients(model, base + a * span, y[:, None])
        fine[int(a * k)] += g[:, 0] / reference_steps
    reference = fine.sum(0) * span

    def error(total: torch.Tensor) -> float:
        return ((total * span - reference).abs().sum() / reference.abs().sum()).item()

    def rule(nodes, weights) -> float:
        return error(sum(w * grad(float(a))[0] for a, w in zip(nodes, weights, strict=True)))

    out = {"passes": passes, "reference": f"riemann_middle_{reference_steps}"}
    mid = [(j + 0.5) / k for j in range(k)]
    out["riemann_middle"] = rule(mid, [1 / k] * k)
    captum = IntegratedGradients(model).attribute(x, baselines=0.0, target=y, n_steps=50)
    out["captum_gausslegendre_50"] = ((captum - reference).abs().sum() / reference.abs().sum()).item()
    out["adaptive"] = ((integrated_gradients(model, x, y, steps=passes, method="adaptive", progress=False).values
                        - reference).abs().sum() / reference.abs().sum()).item()
    m = (passes - 1) // 2  # Simpson on m intervals: m + 1 ends and m midpoints
    ends = np.linspace(0, 1, m + 1)
    nodes = list(ends) + [(ends[i] + ends[i + 1]) / 2 for i in range(m)]
    weights = [1 / (6 * m) * (1 if i in (0, m) else 2) for i in range(m + 1)] + [4 / (6 * m)] * m
    out[f"simpson_{len(nodes)}_nodes"] = rule(nodes, weights)
    per_interval = np.array([((grad(a)[0] / k - fine[j]) * span).abs().sum().item() for j, a in enumerate(mid)])
    cdf = np.concatenate([[0], np.cumsum(np.sqrt(per_interval)) / np.sqrt(per_interval).sum()])
    edges = np.interp(np.linspace(0, 1, k + 1), cdf, np.linspace(0, 1, k + 1))
    out["oracle_density_midpoint"] = rule((edges[:-1] + edges[1:]) / 2, np.diff(edges))
    values = [grad(float(a))[1] for a in np.linspace(0, 1, k + 1)]  # f at the interval ends (forward values)

    def dot(v: torch.Tensor) -> torch.Tensor:
        return (v * span).flatten(1).sum(1)

    for name in ("rescale", "neighbour_change"):
        total = torch.zeros_like(x)
        for j in range(k):
            estimate = grad(mid[j])[0] / k
            residual = (values[j + 1] - values[j]) - dot(estimate)
            direction = grad(mid[j])[0] if name == "rescale" else grad(mid[min(j + 1, k - 1)])[0] - grad(
                mid[max(j - 1, 0)])[0]
            scale = dot(direction)
            factor = torch.where(scale.abs() > 1e-12, residual / scale, torch.zeros_like(residual))
            total += estimate + factor.view(-1, 1, 1, 1) * direction
        out[f"midpoint_completed_per_interval_{name}"] = error(total)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer images and steps (a smoke run)")
    parser.add_argument("--only-zoo", action="store_true", help="rerun the zoo model's part only; keep the "
                        "ResNet parts already in the JSON")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods to sweep; with "
                        "fewer than all, their results are merged into the JSON already there")
    parser.add_argument("--half-passes", action="store_true", help="only the zoo model's map error at 25 passes "
                        "for the rules that might reach Captum's 50-step map (kept in the JSON as zoo_half_passes)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    steps_list = (8, 16) if args.quick else (16, 25, 32, 50)
    extra = () if args.quick else (100,)
    out = {"load_average_start": os.getloadavg()}
    data = make_zoo(4 if args.quick else 16, seed=7)
    if args.half_passes:
        path = ROOT / "benchmarks" / "results" / "vision_ig_quadrature.json"
        previous = json.loads(path.read_text())
        previous["zoo_half_passes"] = half_passes(zoo_model(), data.images, data.labels)
        previous["zoo_half_passes"]["load_average"] = [out["load_average_start"], os.getloadavg()]
        path.write_text(json.dumps(previous, indent=1))
        print(json.dumps(previous["zoo_half_passes"], indent=1))
        return
    print("zoo model", flush=True)
    methods = tuple(args.methods.split(","))
    out["zoo"] = sweep(zoo_model(), data.images, data.labels, steps_list, extra, 100 if args.quick else 1000,
                       baseline=0.0, methods=methods)
    name = "vision_ig_quadrature_quick.json" if args.quick else "vision_ig_quadrature.json"
    if args.only_zoo:
        previous = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
        previous["zoo"], previous["zoo_load_average"] = out["zoo"], [out["load_average_start"], os.getloadavg()]
        (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(previous, indent=1))
        return
    net = resnet18()
    g = torch.Generator().manual_seed(0)
    size = 64 if args.quick else 224
    x = torch.rand(2, 3, size, size, generator=g)
    y = torch.tensor([1, 4])
    print("resnet-18-shaped", flush=True)
    out["resnet18"] = {"size": size, **sweep(net, x, y, steps_list, extra, 100 if args.quick else 400,
                                                     baseline=0.5, methods=methods)}
    xr = torch.rand(4, 3, size, size, generator=g)
    out["resnet18_time"] = race_rules(net, xr, torch.tensor([1, 4, 7, 10]), 1 if args.quick else 3)
    print(json.dumps(out["resnet18_time"]["best_s"]), flush=True)
    out["load_average_end"] = os.getloadavg()
    path = ROOT / "benchmarks" / "results" / name
    if set(methods) != set(METHODS) and path.exists():
        out = merged(json.loads(path.read_text()), out)
    path.write_text(json.dumps(out, indent=1))


def merged(previous: dict, new: dict) -> dict:
    """`previous` with the swept methods' rows, the race and the load averages of `new`."""
    for model in ("zoo", "resnet18"):
        for table in ("mean_abs_delta", "map_error"):
            previous[model][table].update(new[model][table])
    for key in ("resnet18_time", "load_average_start", "load_average_end"):
        previous[key] = new[key]
    return previous


if __name__ == "__main__":
    main()
