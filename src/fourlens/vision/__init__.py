"""The vision lens: attribution maps for image classifiers, their quality metrics and segmentation."""

from fourlens.vision.attribution import (
    METHODS,
    Attribution,
    cam,
    deconvnet,
    grad_cam,
    grad_cam_plus_plus,
    guided_backprop,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)

__all__ = ["METHODS", "Attribution", "cam", "deconvnet", "grad_cam", "grad_cam_plus_plus", "guided_backprop",
           "integrated_gradients", "occlusion", "saliency", "smoothgrad"]
