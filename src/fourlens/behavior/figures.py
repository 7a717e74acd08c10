"""Figure descriptions for the behavior lens (drawn by fourlens.report.plotting at render time)."""

from __future__ import annotations

from fourlens.behavior.comparison_view import ComparisonView
from fourlens.behavior.safety import safety_table
from fourlens.report import Figure


def forest_figure(result: ComparisonView, base_name: str, cand_name: str) -> Figure:
    rows = [{"label": f"{r.task} ({r.metric})", "estimate": r.diff, "low": r.ci_low, "high": r.ci_high}
            for r in result.table.itertuples(index=False)]
    return Figure(lens="behavior", title=f"Paired difference per task: {cand_name} - {base_name}",
                  kind="forest", data={"x_label": "score difference (candidate - baseline)", "rows": rows},
                  caption="95% confidence intervals of the paired per-item difference")


def safety_figure(result: ComparisonView) -> Figure | None:
    """Attack success per attack type and harm category, baseline vs candidate (bar chart)."""
    table = safety_table(result)
    table = table[table["column"] != "all"]
    if table.empty:
        return None
    labels = [f"{r.column}={r.value}" for r in table.itertuples(index=False)]
    return Figure(lens="behavior", title="Attack success by attack type and harm category", kind="bar",
                  data={"x_label": "attack / category", "y_label": "attack success (share of attempts)",
                        "categories": labels,
                        "series": [{"name": result.names[0], "values": list(table["score_a"])},
                                   {"name": result.names[1], "values": list(table["score_b"])}]},
                  caption="Paired per-item comparison; see the safety finding for CIs and adjusted p-values")
