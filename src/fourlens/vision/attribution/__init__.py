"""Attribution methods for image classifiers; each returns an `Attribution`."""

from fourlens.vision.attribution.cam import cam, find_gap_head
from fourlens.vision.attribution.deconvnet import deconvnet
from fourlens.vision.attribution.grad_cam import grad_cam
from fourlens.vision.attribution.grad_cam_plus_plus import grad_cam_plus_plus
from fourlens.vision.attribution.guided_backprop import guided_backprop
from fourlens.vision.attribution.integrated_gradients import integrated_gradients, quadrature
from fourlens.vision.attribution.occlusion import occlusion
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.saliency import saliency
from fourlens.vision.attribution.smoothgrad import smoothgrad

METHODS = {
    "saliency": saliency, "smoothgrad": smoothgrad, "integrated_gradients": integrated_gradients,
    "guided_backprop": guided_backprop, "deconvnet": deconvnet, "occlusion": occlusion,
    "cam": cam, "grad_cam": grad_cam, "grad_cam_plus_plus": grad_cam_plus_plus,
}

__all__ = ["METHODS", "Attribution", "cam", "deconvnet", "find_gap_head", "grad_cam", "grad_cam_plus_plus",
           "guided_backprop", "integrated_gradients", "occlusion", "perturb_and_evaluate", "quadrature",
           "saliency", "smoothgrad"]
