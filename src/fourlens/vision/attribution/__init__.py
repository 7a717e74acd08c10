"""Attribution methods for image classifiers; each returns an `Attribution`."""

from fourlens.vision.attribution.ablation_cam import ablation_cam
from fourlens.vision.attribution.cam import cam, find_gap_head
from fourlens.vision.attribution.deconvnet import deconvnet
from fourlens.vision.attribution.deeplift import deeplift
from fourlens.vision.attribution.eigen_cam import eigen_cam, eigen_grad_cam
from fourlens.vision.attribution.fullgrad import fullgrad
from fourlens.vision.attribution.grad_cam import grad_cam
from fourlens.vision.attribution.grad_cam_plus_plus import grad_cam_plus_plus
from fourlens.vision.attribution.gradient_shap import gradient_shap
from fourlens.vision.attribution.guided_backprop import guided_backprop
from fourlens.vision.attribution.guided_grad_cam import guided_grad_cam
from fourlens.vision.attribution.hirescam import hirescam
from fourlens.vision.attribution.input_x_gradient import input_x_gradient
from fourlens.vision.attribution.integrated_gradients import integrated_gradients, quadrature
from fourlens.vision.attribution.layer_cam import layer_cam
from fourlens.vision.attribution.layout import channels_last_batches
from fourlens.vision.attribution.lrp import lrp
from fourlens.vision.attribution.occlusion import occlusion
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.saliency import saliency
from fourlens.vision.attribution.score_cam import score_cam
from fourlens.vision.attribution.smoothgrad import smoothgrad
from fourlens.vision.attribution.xgrad_cam import xgrad_cam

METHODS = {
    "saliency": saliency, "smoothgrad": smoothgrad, "integrated_gradients": integrated_gradients,
    "input_x_gradient": input_x_gradient, "deeplift": deeplift, "gradient_shap": gradient_shap, "lrp": lrp,
    "guided_backprop": guided_backprop, "deconvnet": deconvnet, "occlusion": occlusion,
    "cam": cam, "grad_cam": grad_cam, "grad_cam_plus_plus": grad_cam_plus_plus, "hirescam": hirescam,
    "xgrad_cam": xgrad_cam, "layer_cam": layer_cam, "eigen_cam": eigen_cam, "eigen_grad_cam": eigen_grad_cam,
    "score_cam": score_cam, "ablation_cam": ablation_cam, "fullgrad": fullgrad, "guided_grad_cam": guided_grad_cam,
}

__all__ = ["METHODS", "Attribution", "ablation_cam", "cam", "channels_last_batches", "deconvnet", "deeplift",
           "eigen_cam", "eigen_grad_cam", "find_gap_head", "fullgrad", "grad_cam", "grad_cam_plus_plus",
           "gradient_shap", "guided_backprop", "guided_grad_cam", "hirescam", "input_x_gradient",
           "integrated_gradients", "layer_cam", "lrp", "occlusion", "perturb_and_evaluate", "quadrature", "saliency",
           "score_cam", "smoothgrad", "xgrad_cam"]
