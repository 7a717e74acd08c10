"""The vision lens: attribution maps for image classifiers, their quality metrics and segmentation."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".attribution": ("METHODS", "Attribution", "cam", "deconvnet", "grad_cam", "grad_cam_plus_plus",
        "guided_backprop", "integrated_gradients", "occlusion", "saliency", "smoothgrad"),
    ".conformance": ("check_attribution_method",),
    ".segmentation": ("saliency_segmentation",),
})
