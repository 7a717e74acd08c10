"""`Figure`: a small, JSON-safe description of a picture, turned into plotly only at render time.

Analyses return data, not drawings (DESIGN.md "compute raw, present later"). A figure names a
`kind` and carries the numbers; `fourlens.report.plotting.to_plotly` draws it. Kinds and their data:

- `line`:    {"x_label", "y_label", "series": [{"name", "x": [...], "y": [...], "mode" (optional)}],
              "markers": [{"x", "y", "label"}] (optional), "log_x"/"log_y" (optional)}
- `scatter`: same as `line`, drawn as points. A series' optional "mode" ("lines", "markers",
             "lines+markers") overrides the kind's default, so fits can be lines over measured points.
- `bar`:     {"x_label", "y_label", "categories": [...], "series": [{"name", "values": [...]}]}
- `forest`:  {"x_label", "rows": [{"label", "estimate", "low", "high"}]} (paired differences with CIs)
- `waterfall`: {"x_label", "y_label", "categories": [...], "values": [...], "total_label"} (parts that
             add up to a change, drawn as steps from 0 with the total as the last bar)
- `heatmap`: {"x_label", "y_label", "x": [...], "y": [...], "z": [[...], ...], "colorscale" (optional)}
- `image`:   {"png_base64": "...", "width", "height"} (e.g. attribution overlays; embedded, no file)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fourlens.report.finding import LENSES
from fourlens.report.jsonsafe import json_safe

SERIES_MODES: tuple[str, ...] = ("lines", "markers", "lines+markers")
FIGURE_KINDS: tuple[str, ...] = ("line", "scatter", "bar", "forest", "waterfall", "heatmap", "image")


@dataclass(frozen=True)
class Figure:
    lens: str
    title: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    caption: str = ""

    def __post_init__(self) -> None:
        if self.lens not in LENSES:
            raise ValueError(f"Figure.lens must be one of {', '.join(LENSES)}; got {self.lens!r}")
        if self.kind not in FIGURE_KINDS:
            raise ValueError(f"Figure.kind must be one of {', '.join(FIGURE_KINDS)}; got {self.kind!r}")
        if not isinstance(self.data, Mapping):
            raise TypeError(f"Figure.data must be a dict; got {type(self.data).__name__}")
        for series in self.data.get("series", []) if self.kind in ("line", "scatter") else []:
            if isinstance(series, Mapping) and series.get("mode", "lines") not in SERIES_MODES:
                raise ValueError(f"Figure({self.title!r}) series mode must be one of {', '.join(SERIES_MODES)}; "
                                 f"got {series.get('mode')!r}")
        object.__setattr__(self, "data", json_safe(dict(self.data), f"Figure({self.title!r}).data"))

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {"lens": self.lens, "title": self.title, "kind": self.kind, "data": self.data,
                "caption": self.caption}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figure:
        return cls(lens=data["lens"], title=data["title"], kind=data["kind"],
                   data=dict(data.get("data", {})), caption=data.get("caption", ""))
