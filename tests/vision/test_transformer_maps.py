"""CAM methods on vision transformers: token outputs read as patch grids (class and register tokens
dropped), the last block's norm as the default layer. Tiny random-init Hugging Face ViT, DINOv2 with
registers and Swin models, built from configs (nothing is downloaded)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision import METHODS, ablation_cam, eigen_cam, grad_cam, hirescam, score_cam
from fourlens.vision.attribution.tokens import token_grid

transformers = pytest.importorskip("transformers", reason="the transformer extra provides Hugging Face models")


def vit() -> nn.Module:
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64, num_labels=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return transformers.ViTForImageClassification(config).eval()


def registers() -> nn.Module:
    config = transformers.Dinov2WithRegistersConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=2, mlp_ratio=2, num_register_tokens=4,
                                                    num_labels=3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return transformers.Dinov2WithRegistersForImageClassification(config).eval()


def swin() -> nn.Module:
    config = transformers.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2],
                                     window_size=4, num_labels=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return transformers.SwinForImageClassification(config).eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))


def manual_grad_cam(model: nn.Module, x: torch.Tensor, layer: str, targets: list[int], extra: int, side: int):
    """Grad-CAM by hand: hook the layer's tokens, drop `extra` leading ones, reshape to side x side."""
    store = {}
    module = dict(model.named_modules())[layer]
    handle = module.register_forward_hook(lambda _m, _i, out: store.update(tokens=out))
    logits = model(x).logits
    handle.remove()
    score = logits.gather(1, torch.tensor(targets)[:, None]).sum()
    (grad,) = torch.autograd.grad(score, store["tokens"])
    acts = store["tokens"][:, extra:].detach()  # (n, h*w, D)
    weights = grad[:, extra:].mean(1)           # (n, D): the mean over positions
    return torch.einsum("nd,npd->np", weights, acts).view(len(x), side, side)


@pytest.mark.parametrize(("build", "layer", "extra", "side"), [
    (vit, "vit.layers.1.layernorm_before", 1, 4),
    (registers, "dinov2_with_registers.encoder.layer.1.norm1", 5, 4),
    (swin, "swin.encoder.layers.1.blocks.0.layernorm_before", 0, 4),
])
def test_grad_cam_reads_the_last_blocks_norm_as_a_patch_grid(build, layer, extra, side, x):
    model = build()
    ours = grad_cam(model, x, [0, 2, 1])
    assert ours.layer == layer and ours.values.shape == (3, side, side)
    expected = manual_grad_cam(model, x, layer, [0, 2, 1], extra, side)
    torch.testing.assert_close(ours.values, expected.detach(), rtol=1e-4, atol=1e-6)
    assert ours.values.abs().sum() > 0  # the patch tokens reach the class token through the last attention


def test_every_cam_method_runs_on_a_vit(x):
    model = vit()
    for name, method in METHODS.items():
        if "cam" not in name or name in ("cam", "guided_grad_cam"):
            continue
        result = method(model, x, 1)
        assert result.values.shape == (3, 4, 4) and torch.isfinite(result.values).all(), name
    # the GAP-head CAM needs a conv feature map: a ViT has none, and says so
    with pytest.raises(BadInputError, match="global-average-pooling head"):
        METHODS["cam"](model, x, 1)


def test_ablation_cam_on_tokens_zeroes_one_feature_of_the_patch_tokens(x):
    model = vit()
    layer = "vit.layers.1.layernorm_before"
    module = dict(model.named_modules())[layer]
    store = {}
    handle = module.register_forward_hook(lambda _m, _i, out: store.update(tokens=out.detach()))
    with torch.no_grad():
        base = model(x).logits[:, 1]
    handle.remove()
    tokens = store["tokens"]  # (n, 17, 32)
    drops = []
    for k in range(tokens.shape[2]):
        ablated = tokens.clone()
        ablated[:, 1:, k] = 0  # the class token is left as it is
        handle = module.register_forward_hook(lambda _m, _i, _out, a=ablated: a)
        with torch.no_grad():
            drops.append(model(x).logits[:, 1])
        handle.remove()
    weights = (base[:, None] - torch.stack(drops, 1)) / base[:, None]  # (n, D)
    expected = torch.einsum("nd,npd->np", weights, tokens[:, 1:]).view(3, 4, 4)
    torch.testing.assert_close(ablation_cam(model, x, 1).values, expected, rtol=1e-4, atol=1e-6)


def test_tokens_that_do_not_form_a_grid_are_refused_with_the_reason(x):
    class Pooled(nn.Module):
        """A transformer-like model whose chosen layer outputs 3 tokens: no patch grid."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(3 * 32 * 32, 3 * 8)
            self.norm = nn.LayerNorm(8)
            self.head = nn.Linear(8, 2)

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            tokens = self.norm(self.embed(images.flatten(1)).view(-1, 3, 8))
            return self.head(tokens.mean(1))

    with pytest.raises(BadInputError, match="do not form a patch grid"):
        grad_cam(Pooled(), x, 0, layer="norm")
    with pytest.raises(BadInputError, match="feature maps .* or transformer tokens"):
        grad_cam(vit(), x, 0, layer="vit.layers.1.attention")  # returns a tuple, not one tensor


def test_token_grid_drops_the_fewest_leading_tokens_that_leave_the_images_grid():
    assert token_grid(197, (224, 224)).extra == 1          # ViT-B/16: class token + 14 x 14
    assert token_grid(201, (224, 224)).extra == 5          # + 4 registers
    grid = token_grid(198, (224, 224))                     # DeiT: class + distillation tokens
    assert (grid.extra, grid.height, grid.width) == (2, 14, 14)
    assert token_grid(49, (224, 224)).extra == 0           # Swin's last stage: no extra tokens
    wide = token_grid(1 + 8 * 16, (128, 256))
    assert (wide.extra, wide.height, wide.width) == (1, 8, 16)
    assert token_grid(3, (32, 32)) is None
    assert token_grid(1 + 9, (32, 32)) is None  # 3 x 3 patches cannot tile 32 px


def test_a_vit_trained_on_the_zoo_is_explained_through_its_tokens(zoo_vit, zoo_batch):
    """Score-CAM on the last block's patch tokens finds the animal well above chance; the gradient CAMs on
    this small mean-pooled ViT barely do (docs/vision.md), so only their shape and layer are checked."""
    from fourlens.vision.metrics import pointing_game

    x, y, masks = zoo_batch.images, zoo_batch.labels, zoo_batch.masks
    chance = masks.float().mean().item()  # a random point lands on the animal this often (about 7%)
    scored = score_cam(zoo_vit, x, y)
    assert scored.layer == "blocks.1.norm1" and scored.values.shape == (24, 8, 8)
    assert pointing_game(scored, masks, tolerance=3).accuracy > 4 * chance
    for method in (grad_cam, hirescam, eigen_cam, ablation_cam):
        result = method(zoo_vit, x, y)
        assert result.layer == "blocks.1.norm1" and result.values.shape == (24, 8, 8)
