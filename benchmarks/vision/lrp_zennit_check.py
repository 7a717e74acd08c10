"""fourlens's LRP against Zennit, the reference implementation, in Zennit's own environment.

Zennit needs torchvision, which does not import beside the CPU torch of fourlens's venv, so this runs in
the environment built for the pytorch-grad-cam benchmark (bench_gradcam_peer.py), with zennit added:

    /tmp/gradcam-env/bin/pip install zennit
    PYTHONPATH=src /tmp/gradcam-env/bin/python benchmarks/vision/lrp_zennit_check.py

Writes benchmarks/results/vision_lrp_zennit.json. For each model and composite, Zennit runs with its
`SequentialMergeBatchNorm` canonizer and the output relevance s_c (one-hot times the score, which is
where fourlens starts; Zennit's usual one-hot start gives the same maps divided by s_c).

The canonizer leaves each merged BatchNorm computing x / sqrt(1 + eps) instead of x (mean 0, variance 1,
BatchNorm's own eps still added), so Zennit's canonized network differs from the real one by that factor
per BatchNorm (about 5e-6 each at the usual eps 1e-5): maps then agree to about 1e-5 relative. The
models are also run with every BatchNorm's eps set to 0, where that factor is 1 and the maps agree to
float64 rounding.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "vision_lrp_zennit.json"


def models() -> dict[str, nn.Module]:
    from fourlens.demo.zoo import ZooNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        chain = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 5))
        zoo = ZooNet()
    for model in (chain, zoo):
        for module in model.modules():  # BatchNorm statistics that are not the identity
            if isinstance(module, nn.BatchNorm2d):
                g = torch.Generator().manual_seed(module.num_features)
                module.running_mean.copy_(torch.randn(module.num_features, generator=g) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=g) + 0.5)
                module.weight.data.copy_(torch.rand(module.num_features, generator=g) + 0.5)
                module.bias.data.copy_(torch.randn(module.num_features, generator=g) * 0.1)
    exact = {}
    for name, model in (("conv_bn_chain_32px", chain), ("zoo_net_64px", zoo)):
        twin = copy.deepcopy(model)
        for module in twin.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eps = 0.0
        exact[f"{name}_bn_eps0"] = twin.double().eval()
    return {"conv_bn_chain_32px": chain.double().eval(), "zoo_net_64px": zoo.double().eval(), **exact}


def zennit_composite(name: str, low: float, high: float, eps: float):
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlus, LayerMapComposite, layer_map_base
    from zennit.rules import Epsilon
    from zennit.types import Convolution

    canonizers = [SequentialMergeBatchNorm()]
    if name == "epsilon":
        return LayerMapComposite(layer_map_base(eps) + [(Convolution, Epsilon(eps)), (nn.Linear, Epsilon(eps))],
                                 canonizers=canonizers)
    if name == "epsilon_gamma_box":
        return EpsilonGammaBox(low=low, high=high, epsilon=eps, stabilizer=eps, canonizers=canonizers)
    return {"epsilon_plus": EpsilonPlus, "epsilon_alpha2_beta1": EpsilonAlpha2Beta1}[name](
        epsilon=eps, stabilizer=eps, canonizers=canonizers)


def main() -> None:
    import zennit
    from zennit.attribution import Gradient

    from fourlens.vision.attribution.lrp import COMPOSITES, lrp

    out = {"zennit": zennit.__version__ if hasattr(zennit, "__version__") else "0.5.1", "torch": torch.__version__,
           "results": {}}
    for model_name, model in models().items():
        size = 32 if "32" in model_name else 64
        x = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        target = torch.tensor([0, 1, 2, 3])
        # eps 1e-6: the defaults; a denominator near zero then magnifies rounding (the canonizer changes the
        # forward pass's rounding), so eps 0.01 shows the rules agree exactly where that cannot happen
        for composite in COMPOSITES:
            for eps in (1e-6, 1e-2):
                ours = lrp(model, x, target, composite=composite, low=0.0, high=1.0, epsilon=eps, stabilizer=eps).values
                with Gradient(model=model, composite=zennit_composite(composite, 0.0, 1.0, eps)) as attributor:
                    scores = model(x).detach()
                    seed = torch.zeros_like(scores).scatter_(1, target[:, None], scores.gather(1, target[:, None]))
                    _, theirs = attributor(x, seed)
                diff = (ours - theirs).abs().max().item()
                scale = theirs.abs().max().item()
                out["results"][f"{model_name}/{composite}/eps={eps:g}"] = {
                    "max_abs_diff": diff, "max_abs_relevance": scale, "relative": diff / scale}
                print(f"{model_name:20s} {composite:22s} eps {eps:g} max |diff| {diff:.2e} of {scale:.2e}", flush=True)
    out["load_average"] = os.getloadavg()
    RESULTS.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.exit(main())
