"""The vision lens: attribution maps for image classifiers, their quality metrics and segmentation, and
what the network's units see (feature visualization, dataset search, deconvnet, live CAM)."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".attribution": ("METHODS", "Attribution", "ablation_cam", "cam", "channels_last_batches", "deconvnet",
        "deeplift", "eigen_cam", "eigen_grad_cam", "fullgrad", "grad_cam", "grad_cam_plus_plus", "gradient_shap",
        "guided_backprop", "guided_grad_cam", "hirescam", "input_x_gradient", "integrated_gradients", "layer_cam",
        "lrp", "occlusion", "saliency", "score_cam", "smoothgrad", "xgrad_cam"),
    ".conformance": ("check_attribution_method",),
    ".transposed_conv": ("TransposedConvExample", "transposed_conv_example_1d", "zero_insertion_conv_transpose"),
    ".deconvnet_reconstruction": ("deconvnet_reconstruction",),
    ".deep_dream": ("Dream", "deep_dream"),
    ".fourier": ("high_frequency_share",),
    ".image_folder": ("ImageFolder",),
    ".live": ("LiveCam", "live_cam", "live_cam_stream", "overlay_frames"),
    ".attribution.receptive_field": ("LayerField", "ReceptiveField", "receptive_field"),
    ".search_grids": ("hit_reconstructions", "top_grid"),
    ".segmentation": ("saliency_segmentation",),
    ".top_activations": ("ActivationIndex", "Hit", "LayerTop", "top_activations"),
    ".visualize": ("Visualization", "class_model_visualization", "neuron_visualization"),
})
