"""Saliency maps used for segmentation (Simonyan et al. 2014, section 3.2 "Weakly Supervised Object
Localisation"): seed foreground where the map is strongest and background where it is weakest, fit a
colour model to the seeds, label every pixel by it (one GrabCut-style step, without the graph cut),
and keep the connected component that holds the map's peak.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from fourlens.errors import BadInputError
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.metrics._maps import as_heatmap


def saliency_segmentation(attribution: Attribution | torch.Tensor, image: torch.Tensor | None = None, *,
                          foreground_quantile: float = 0.95, background_quantile: float = 0.3,
                          threshold: float = 0.5, support: float = 0.3) -> torch.Tensor:
    """A boolean object mask (n, H, W) from maps and, optionally, the images (n, C, H, W) in [0, 1].

    Without `image`: pixels whose normalised map value is >= `threshold`. With `image`: pixels above
    the `foreground_quantile` of the map seed the object, those below `background_quantile` seed the
    background (the paper's 95% / 30%); a diagonal Gaussian colour model of each set relabels every
    pixel where the normalised map is at least `support`. Either way, only the connected component
    containing the map's maximum is kept.
    """
    if not 0 <= background_quantile < foreground_quantile <= 1:
        raise ValueError("need 0 <= background_quantile < foreground_quantile <= 1; got "
                         f"{background_quantile}, {foreground_quantile}")
    if image is not None and image.ndim != 4:
        raise BadInputError(f"image must be (n, C, H, W); got shape {tuple(image.shape)}")
    if image is None:
        n = attribution.values.shape[0] if isinstance(attribution, Attribution) else attribution.shape[0]
        size = (attribution.values.shape[-2:] if isinstance(attribution, Attribution)
                and attribution.values.ndim == 4 else None)
        if size is None:
            size = tuple(attribution.shape[-2:]) if isinstance(attribution, torch.Tensor) else None
        if size is None:
            raise BadInputError("a CAM attribution needs the image (for its size) to be segmented")
    else:
        n, size = image.shape[0], tuple(image.shape[-2:])
    heat = as_heatmap(attribution, tuple(size), n).cpu().numpy()
    masks = []
    for i in range(n):
        h = heat[i]
        if image is None:
            candidate = h >= threshold * h.max()
        else:
            # The colour model decides only where the map gives some support (GrabCut's region prior);
            # the strongest seeds stay foreground whatever their colour.
            colour = _colour_model(image[i].detach().float().cpu().numpy(), h, foreground_quantile,
                                   background_quantile)
            candidate = (colour & (h >= support * h.max())) | (h >= np.quantile(h, foreground_quantile))
        labels, _count = ndimage.label(candidate)  # 4-connected components
        peak = np.unravel_index(np.argmax(h), h.shape)
        keep = labels[peak]
        masks.append(labels == keep if keep else np.zeros_like(candidate))
    return torch.from_numpy(np.stack(masks).astype(bool))


def _colour_model(image: np.ndarray, heat: np.ndarray, fg_q: float, bg_q: float) -> np.ndarray:
    pixels = image.reshape(image.shape[0], -1).T  # (H*W, C)
    flat = heat.ravel()
    fg = flat >= np.quantile(flat, fg_q)
    bg = flat <= np.quantile(flat, bg_q)
    if fg.sum() < 2 or bg.sum() < 2:
        return heat >= 0.5 * heat.max()

    def log_likelihood(seed: np.ndarray) -> np.ndarray:
        mean = pixels[seed].mean(0)
        var = pixels[seed].var(0) + 1e-3
        return -0.5 * (((pixels - mean) ** 2) / var + np.log(var)).sum(1)

    return (log_likelihood(fg) > log_likelihood(bg)).reshape(heat.shape)
