"""Draw a `Figure` description with plotly. Presentation only: no analysis happens here."""

from __future__ import annotations

import html
from typing import Any

from fourlens.report.figure import Figure

# plotly is imported inside the builders: it takes most of a second to import and `fourlens` (the CLI
# included) imports this package whether or not it draws anything.

# Colours chosen to stay distinguishable for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def to_plotly(figure: Figure) -> Any:
    """Return a `plotly.graph_objects.Figure` for `figure`."""
    import plotly.graph_objects as go

    builder = _BUILDERS[figure.kind]
    plot = go.Figure()
    builder(plot, figure.data)
    plot.update_layout(
        title={"text": figure.title, "x": 0.0, "xanchor": "left"},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        height=360,
        colorway=list(PALETTE),
        legend={"orientation": "h", "y": -0.2},
    )
    return plot


def figure_html(figure: Figure, div_id: str) -> str:
    """The figure as an HTML fragment that expects plotly.js to be loaded already on the page."""
    if figure.kind == "image":
        data = figure.data
        return (f'<img id="{div_id}" class="figure-image" alt="{_escape(figure.title)}" '
                f'src="data:image/png;base64,{data["png_base64"]}">')
    return to_plotly(figure).to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def figure_placeholder(figure: Figure, div_id: str) -> str:
    """Where a figure goes on a report page: an image inline, a plotly figure as an empty div that the
    page's loader draws from the figure data (`figure_data`) once plotly.js is ready."""
    if figure.kind == "image":
        return figure_html(figure, div_id)
    return f'<div id="{div_id}" class="plotly-figure" style="min-height: 360px"></div>'


def figure_data(figure: Figure) -> dict[str, Any]:
    """The plotly figure as plain data ({"data": [...], "layout": {...}}) for `Plotly.newPlot`."""
    import json

    import plotly.io

    return json.loads(plotly.io.to_json(to_plotly(figure), validate=False, remove_uids=True))


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _axes(plot: Any, data: dict[str, Any]) -> None:
    plot.update_xaxes(title_text=data.get("x_label", ""), type="log" if data.get("log_x") else None)
    plot.update_yaxes(title_text=data.get("y_label", ""), type="log" if data.get("log_y") else None)


def _series(plot: Any, data: dict[str, Any], mode: str) -> None:
    import plotly.graph_objects as go

    for series in data.get("series", []):
        # A series may override the kind's default, e.g. fitted curves drawn as lines over measured points.
        plot.add_trace(go.Scatter(x=series["x"], y=series["y"], name=series.get("name", ""),
                                  mode=series.get("mode", mode)))
    markers = data.get("markers", [])
    if markers:
        plot.add_trace(go.Scatter(
            x=[m["x"] for m in markers], y=[m["y"] for m in markers],
            text=[m.get("label", "") for m in markers], mode="markers", name="flagged",
            marker={"symbol": "x", "size": 11, "color": "#D55E00", "line": {"width": 1}},
            hovertemplate="%{text}<br>x=%{x}<br>y=%{y}<extra></extra>",
        ))
    _axes(plot, data)


def _line(plot: Any, data: dict[str, Any]) -> None:
    _series(plot, data, "lines")


def _scatter(plot: Any, data: dict[str, Any]) -> None:
    _series(plot, data, "markers")


def _bar(plot: Any, data: dict[str, Any]) -> None:
    import plotly.graph_objects as go

    for series in data.get("series", []):
        plot.add_trace(go.Bar(x=data["categories"], y=series["values"], name=series.get("name", "")))
    plot.update_layout(barmode="group")
    _axes(plot, data)


def _forest(plot: Any, data: dict[str, Any]) -> None:
    import plotly.graph_objects as go

    rows = data.get("rows", [])
    estimates = [r["estimate"] for r in rows]
    plot.add_trace(go.Scatter(
        x=estimates, y=[r["label"] for r in rows], mode="markers", name="difference",
        marker={"size": 9, "color": PALETTE[0]},
        error_x={"type": "data", "symmetric": False,
                 "array": [r["high"] - r["estimate"] for r in rows],
                 "arrayminus": [r["estimate"] - r["low"] for r in rows]},
    ))
    plot.add_vline(x=0, line_dash="dash", line_color="#888")
    plot.update_xaxes(title_text=data.get("x_label", ""))
    plot.update_yaxes(autorange="reversed")


def _waterfall(plot: Any, data: dict[str, Any]) -> None:
    import plotly.graph_objects as go

    categories = [*data["categories"], data.get("total_label", "total")]
    values = [*data["values"], sum(data["values"])]
    plot.add_trace(go.Waterfall(x=categories, y=values, measure=["relative"] * len(data["values"]) + ["total"],
                                increasing={"marker": {"color": "#c0392b"}},
                                decreasing={"marker": {"color": "#27ae60"}},
                                totals={"marker": {"color": PALETTE[0]}}))
    _axes(plot, data)


def _heatmap(plot: Any, data: dict[str, Any]) -> None:
    import plotly.graph_objects as go

    plot.add_trace(go.Heatmap(x=data.get("x"), y=data.get("y"), z=data["z"],
                              colorscale=data.get("colorscale", "RdBu"), zmid=data.get("zmid")))
    _axes(plot, data)


def _image(plot: Any, data: dict[str, Any]) -> None:
    import plotly.graph_objects as go

    plot.add_trace(go.Image(source=f"data:image/png;base64,{data['png_base64']}"))


_BUILDERS = {"line": _line, "scatter": _scatter, "bar": _bar, "forest": _forest, "waterfall": _waterfall,
             "heatmap": _heatmap, "image": _image}
