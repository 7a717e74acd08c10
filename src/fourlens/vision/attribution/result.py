"""`Attribution`: what every attribution method returns (raw, signed values; presentation on demand)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import torch

from fourlens.vision import present


@dataclass(frozen=True, eq=False)
class Attribution:
    """Raw attribution values and how they were computed.

    - `values`: the input's shape (n, C, H, W) for input-space methods, (n, h, w) at the layer's
      resolution for CAM methods; with several targets a T axis follows n: (n, T, ...). Signed and
      unnormalised (DESIGN.md: compute raw, present later).
    - `target`: (n,) class indices, or (n, T) with several targets.
    - `delta`: integrated gradients' completeness error per sample (and target), else None.
    - `probability_map`: occlusion's target probability per square position (n[, T], rows, cols).
    - `layer`: the layer name (CAM methods), else None.
    - `params`: the settings the method ran with (steps, window, ...), JSON-safe.
    """

    values: torch.Tensor
    method: str
    target: torch.Tensor
    delta: torch.Tensor | None = None
    probability_map: torch.Tensor | None = None
    layer: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def multi_target(self) -> bool:
        return self.target.ndim == 2

    @property
    def score_drop(self) -> torch.Tensor:
        """Occlusion's per-pixel attribution (the same tensor as `values`)."""
        return self.values

    def heatmap(self, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Presentation: (n[, T], H, W) in [0, 1], reduced over channels the method's usual way,
        rectified where only positive evidence is shown (CAMs, occlusion), upsampled to `size`."""
        return present.heatmap(self.values, self.method, size=size, multi_target=self.multi_target)

    def overlay(self, image: torch.Tensor, alpha: float = 0.85) -> list:
        """PIL images: the heatmap (jet-like colours) over `image` (n, 3, H, W) in [0, 1]."""
        maps = self.heatmap(size=tuple(image.shape[-2:]))
        if self.multi_target:
            maps = maps[:, 0]
        return [present.overlay(image[i], maps[i], alpha=alpha) for i in range(image.shape[0])]

    def to_dict(self) -> dict[str, Any]:
        def tolist(t: torch.Tensor | None) -> Any:
            return None if t is None else t.detach().cpu().tolist()

        return {"method": self.method, "target": tolist(self.target), "shape": list(self.values.shape),
                "values": tolist(self.values), "delta": tolist(self.delta),
                "probability_map": tolist(self.probability_map), "layer": self.layer, "params": self.params}

    def _repr_html_(self) -> str:
        maps = self.heatmap()
        if self.multi_target:
            maps = maps[:, 0]
        picture = present.heatmap_strip(maps[:8])
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (f"<div><b>{self.method}</b> target {self.target[:8].tolist()} values "
                f"{tuple(self.values.shape)}<br><img src='data:image/png;base64,{encoded}'></div>")
