"""Plotly figure JSON for the pages (presentation only: every number comes from a fourlens function).

Figures are plain dicts ({"data": [...], "layout": {...}}) that the browser draws with the plotly.js the
server ships; `figure_json` turns a report `Figure` into the same form through `fourlens.report.plotting`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fourlens.report.figure import Figure
from fourlens.report.plotting import PALETTE


def rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def layout(title: str, x_title: str = "", y_title: str = "", height: int = 320, **extra: Any) -> dict:
    return {"title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
            "template": "plotly_white", "height": height, "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
            "xaxis": {"title": {"text": x_title}}, "yaxis": {"title": {"text": y_title}},
            "legend": {"orientation": "h", "y": -0.25}, "hovermode": "closest", **extra}


def band_figure(title: str, y_title: str, series: Sequence[dict], x_title: str = "step",
                marks: Sequence[dict] = ()) -> dict:
    """One line per series with its 95% band. `series`: {"name", "x", "y", "low", "high"}; a missing
    bound (None) leaves a gap in the band. `marks`: vertical lines {"x", "label", "dash"}."""
    data = []
    for i, one in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        group = f"s{i}"
        data.append({"type": "scatter", "x": one["x"], "y": one["high"], "mode": "lines", "line": {"width": 0},
                     "hoverinfo": "skip", "showlegend": False, "legendgroup": group, "name": f"{one['name']} high"})
        data.append({"type": "scatter", "x": one["x"], "y": one["low"], "mode": "lines", "line": {"width": 0},
                     "fill": "tonexty", "fillcolor": rgba(colour, 0.18), "hoverinfo": "skip", "showlegend": False,
                     "legendgroup": group, "name": f"{one['name']} 95% CI"})
        data.append({"type": "scatter", "x": one["x"], "y": one["y"], "mode": "lines+markers", "name": one["name"],
                     "legendgroup": group, "line": {"color": colour}, "marker": {"size": 6},
                     "customdata": [[lo, hi] for lo, hi in zip(one["low"], one["high"], strict=True)],
                     "hovertemplate": "%{x}: %{y:.4g} (95% CI %{customdata[0]:.4g} to %{customdata[1]:.4g})"
                                      f"<extra>{_escape(one['name'])}</extra>"})
    figure = {"data": data, "layout": layout(title, x_title, y_title)}
    add_marks(figure, marks)
    return figure


def add_marks(figure: dict, marks: Sequence[dict]) -> None:
    """Vertical lines with a label at the top (baseline, candidate, where a finding began)."""
    shapes = figure["layout"].setdefault("shapes", [])
    notes = figure["layout"].setdefault("annotations", [])
    for mark in marks:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": mark["x"], "x1": mark["x"], "y0": 0,
                       "y1": 1, "line": {"color": mark.get("colour", "#888"), "dash": mark.get("dash", "dot"),
                                         "width": 1}})
        notes.append({"xref": "x", "yref": "paper", "x": mark["x"], "y": 1.02, "text": _escape(mark["label"]),
                      "showarrow": False, "font": {"size": 10, "color": mark.get("colour", "#555")}})


def lines_figure(title: str, x_title: str, y_title: str, series: Sequence[dict], log_y: bool = False) -> dict:
    """Overlaid curves: `series` {"name", "x", "y"}."""
    data = [{"type": "scattergl" if len(one["x"]) > 2_000 else "scatter", "x": one["x"], "y": one["y"],
             "mode": "lines", "name": one["name"], "line": {"color": PALETTE[i % len(PALETTE)], "width": 1.5}}
            for i, one in enumerate(series)]
    figure = {"data": data, "layout": layout(title, x_title, y_title, height=420)}
    if log_y:
        figure["layout"]["yaxis"]["type"] = "log"
    return figure


def heatmap_figure(title: str, x: list, y: list, z: list[list], x_title: str, y_title: str,
                   colourbar: str = "") -> dict:
    """A diverging heatmap centred on 0: positive values red, negative blue (plotly.js's RdBu runs from
    blue to red), so the caller orients its change to make red the worse direction."""
    return {"data": [{"type": "heatmap", "x": x, "y": y, "z": z, "colorscale": "RdBu",
                      "zmid": 0, "colorbar": {"title": {"text": colourbar}},
                      "hovertemplate": "%{y} / %{x}: %{z:.3f}<extra></extra>"}],
            "layout": layout(title, x_title, y_title, height=max(260, 60 + 28 * len(y)))}


def figure_json(figure: Figure) -> dict:
    """A report `Figure` as plotly JSON (drawn by `fourlens.report.plotting.to_plotly`)."""
    if figure.kind == "image":
        return {"image": figure.data.get("png_base64", ""), "title": figure.title}
    import plotly.io

    from fourlens.report.plotting import to_plotly

    return json.loads(plotly.io.to_json(to_plotly(figure), validate=False))


def _escape(text: str) -> str:
    import html

    return html.escape(str(text), quote=True)
