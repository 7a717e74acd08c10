"""Figure descriptions for the behavior lens (drawn by fourlens.report.plotting at render time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fourlens.report import Figure

if TYPE_CHECKING:
    from fourlens.behavior.compare import Comparison


def forest_figure(result: Comparison, base_name: str, cand_name: str) -> Figure:
    rows = [{"label": f"{r.task} ({r.metric})", "estimate": r.diff, "low": r.ci_low, "high": r.ci_high}
            for r in result.table.itertuples(index=False)]
    return Figure(lens="behavior", title=f"Paired difference per task: {cand_name} - {base_name}",
                  kind="forest", data={"x_label": "score difference (candidate - baseline)", "rows": rows},
                  caption="95% confidence intervals of the paired per-item difference")
