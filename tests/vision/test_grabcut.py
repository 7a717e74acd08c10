"""GrabCut segmentation seeded by the map's quantiles (Simonyan et al. 2014, section 6)."""

from __future__ import annotations

import pytest
import torch

from fourlens.errors import BadInputError
from fourlens.vision import grad_cam
from fourlens.vision.segmentation import saliency_segmentation

pytest.importorskip("cv2", reason="GrabCut comes with the vision extra (opencv-python-headless)")


def iou(pred: torch.Tensor, truth: torch.Tensor) -> float:
    return ((pred & truth).flatten(1).sum(1) / (pred | truth).flatten(1).sum(1).clamp(min=1)).mean().item()


def test_grabcut_segments_the_zoo_animals_better_than_the_colour_model(zoo_model, zoo_batch):
    x, y, truth = zoo_batch.images[:12], zoo_batch.labels[:12], zoo_batch.masks[:12]
    maps = grad_cam(zoo_model, x, y)
    cut = saliency_segmentation(maps, x, method="grabcut", min_size=16)
    colour = saliency_segmentation(maps, x, min_size=16)
    assert iou(cut, truth) > 0.75 and iou(cut, truth) > iou(colour, truth) + 0.05


def test_grabcut_keeps_the_seeds_and_needs_the_image():
    image = torch.zeros(1, 3, 32, 32)
    image[0, :, 8:20, 8:20] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)  # a red square on black
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    heat = torch.exp(-((rows - 15) ** 2 + (cols - 15) ** 2) / (2 * 4.0 ** 2)).unsqueeze(0)  # a blob on the square
    mask = saliency_segmentation(heat, image, method="grabcut")
    assert mask[heat >= heat.quantile(0.95)].all()  # the fixed foreground seeds stay foreground
    # the colours decide the rest: the whole square, nothing of the black background
    assert mask[0, 8:20, 8:20].all() and mask.sum() == 144
    with pytest.raises(BadInputError, match="image"):
        saliency_segmentation(heat, method="grabcut")
    with pytest.raises(ValueError, match="method"):
        saliency_segmentation(heat, image, method="watershed")
