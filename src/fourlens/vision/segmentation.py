"""Saliency maps used for segmentation (Simonyan et al. 2014, section 6 "Weakly Supervised Object
Localisation"). Three ways, all ending in connected components (scipy.ndimage.label):

- `"threshold"` (the default without an image): pixels whose normalised map value is at least
  `threshold` x the image's maximum;
- `"colour_model"` (the default with an image): foreground seeds above the map's 95% quantile,
  background seeds below its 30% quantile (the paper's numbers), a diagonal Gaussian colour model per
  seed set relabels every pixel the map supports (one colour-model step, no graph cut);
- `"grabcut"`: the paper's method, GrabCut (Rother et al. 2004; OpenCV's `grabCut`, `pip install
  'fourlens[vision]'`) seeded by the same quantiles: pixels above the 95% quantile are fixed foreground,
  below the 30% quantile fixed background, the others start as probable foreground where the map is at
  least `support` x its maximum and as probable background elsewhere; GrabCut's colour mixture models and
  graph cut then decide them (`grabcut_iterations` rounds).

Of the components, `keep` chooses: the one holding the map's peak (default), the largest, or all,
after dropping those smaller than `min_size` pixels.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from fourlens.errors import BadInputError, require
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.metrics._maps import as_heatmap


def saliency_segmentation(attribution: Attribution | torch.Tensor, image: torch.Tensor | None = None, *,
                          foreground_quantile: float = 0.95, background_quantile: float = 0.3,
                          threshold: float = 0.5, support: float = 0.3, keep: str = "peak", min_size: int = 1,
                          connectivity: int = 4, colour_model: bool = True, method: str | None = None,
                          grabcut_iterations: int = 5) -> torch.Tensor:
    """A boolean object mask (n, H, W) from maps and, optionally, the images (n, C, H, W) in [0, 1].

    Without `image` (or with `colour_model=False`, the image then only giving the size): pixels whose
    map value is >= `threshold` x the map's maximum. With `image`: pixels
    above the `foreground_quantile` of the map seed the object, those below `background_quantile` seed
    the background (the paper's 95% / 30%); a diagonal Gaussian colour model of each set relabels every
    pixel where the map is at least `support` x its maximum. Then connected components
    (`connectivity` 4 or 8) smaller than `min_size` pixels are dropped and `keep` picks the component
    holding the map's maximum (`"peak"`; none if that one was dropped), the `"largest"`, or `"all"`.
    `method` ("threshold", "colour_model", "grabcut") overrides the choice made by `image` and
    `colour_model`; "colour_model" and "grabcut" need `image` (n, 3, H, W) in [0, 1].
    """
    if keep not in ("peak", "largest", "all"):
        raise ValueError(f"keep must be 'peak', 'largest' or 'all'; got {keep!r}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8; got {connectivity!r}")
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1 pixel; got {min_size}")
    if not 0 <= background_quantile < foreground_quantile <= 1:
        raise ValueError("need 0 <= background_quantile < foreground_quantile <= 1; got "
                         f"{background_quantile}, {foreground_quantile}")
    if image is not None and image.ndim != 4:
        raise BadInputError(f"image must be (n, C, H, W); got shape {tuple(image.shape)}")
    if method is None:
        method = "colour_model" if image is not None and colour_model else "threshold"
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method != "threshold" and image is None:
        raise BadInputError(f"method {method!r} reads the image's colours; pass image=(n, 3, H, W)")
    if method == "grabcut":
        cv2 = require("cv2", "vision", "GrabCut segmentation")
        if image.shape[1] != 3:
            raise BadInputError(f"GrabCut needs RGB images (n, 3, H, W); got {image.shape[1]} channels")
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
        if method == "threshold":
            candidate = h >= threshold * h.max()
        elif method == "grabcut":
            candidate = _grabcut(cv2, image[i].detach().float().cpu().numpy(), h, foreground_quantile,
                                 background_quantile, support, grabcut_iterations)
        else:
            # The colour model decides only where the map gives some support (GrabCut's region prior);
            # the strongest seeds stay foreground whatever their colour.
            colour = _colour_model(image[i].detach().float().cpu().numpy(), h, foreground_quantile,
                                   background_quantile)
            candidate = (colour & (h >= support * h.max())) | (h >= np.quantile(h, foreground_quantile))
        masks.append(_components(candidate, h, keep, min_size, connectivity))
    return torch.from_numpy(np.stack(masks).astype(bool))


METHODS = ("threshold", "colour_model", "grabcut")


def _components(candidate: np.ndarray, heat: np.ndarray, keep: str, min_size: int, connectivity: int
                ) -> np.ndarray:
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    labels, count = ndimage.label(candidate, structure=structure)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)  # sizes[0] is the background
    big = sizes >= min_size
    big[0] = False
    if keep == "all":
        return big[labels]
    if keep == "largest":
        if not big.any():
            return np.zeros_like(candidate, dtype=bool)
        return labels == int(np.argmax(np.where(big, sizes, -1)))
    peak = labels[np.unravel_index(np.argmax(heat), heat.shape)]
    return labels == peak if peak and big[peak] else np.zeros_like(candidate, dtype=bool)


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


def _grabcut(cv2, image: np.ndarray, heat: np.ndarray, fg_q: float, bg_q: float, support: float,
             iterations: int) -> np.ndarray:
    """GrabCut seeded by the map's quantiles; returns the (H, W) foreground."""
    mask = np.where(heat >= support * heat.max(), cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    mask[heat <= np.quantile(heat, bg_q)] = cv2.GC_BGD
    mask[heat >= np.quantile(heat, fg_q)] = cv2.GC_FGD
    if not (mask == cv2.GC_BGD).any() or not (mask == cv2.GC_FGD).any() or heat.max() <= heat.min():
        return heat >= 0.5 * heat.max()  # a flat map seeds nothing: GrabCut has no colours to learn
    pixels = np.ascontiguousarray((image.transpose(1, 2, 0).clip(0, 1) * 255).round().astype(np.uint8))  # (H, W, 3)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(pixels, mask, None, background, foreground, iterations, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
