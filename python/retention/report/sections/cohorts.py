"""Cohort retention: the cohort x month heatmap and the retention curves.

A cell whose period has not ended is NULL in the mart (no data, not 0%): it is drawn
hatched, a suppressed small cohort grey, and a 0% cell coloured with its number.
"""

from __future__ import annotations

import math

import pandas as pd

from retention.report import svg
from retention.report.components import Section, chart, drawn, is_missing, missing_reason
from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.templating import render

KEY, TITLE = "cohorts", "Cohort retention"


def render_section(marts: Marts, ctx: RunContext) -> Section:
    reason = missing_reason(marts, "fct_cohort_retention")
    if reason:
        return Section.unavailable(KEY, TITLE, reason)
    frame = marts.df(
        """
        select cohort_start_date, period_number, cohort_customers, active_customers,
               n_day_retention, unbounded_retention, is_period_complete, is_suppressed
        from marts.fct_cohort_retention
        where cohort_grain = 'month'
        order by cohort_start_date, period_number
        """
    )
    if frame.empty:
        return Section.unavailable(KEY, TITLE, "no monthly cohorts in this build.")
    grid = CohortGrid.from_frame(frame)
    body = render(
        "sections/cohorts.html.j2",
        cohorts=len(grid.labels),
        pending=grid.count(svg.PENDING),
        suppressed=grid.count(svg.SUPPRESSED),
        heatmap=drawn(grid.heatmap()),
        curves=chart(lambda: _curves(frame)),
    )
    return Section(KEY, TITLE, body, True)


class CohortGrid:
    """Cohorts (rows) x months since the first order (columns): value and status per cell."""

    def __init__(self, labels, periods, values, status):
        self.labels, self.periods, self.values, self.status = labels, periods, values, status

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> CohortGrid:
        cohorts = sorted(frame["cohort_start_date"].unique())
        periods = list(range(int(frame["period_number"].max()) + 1))
        cells = frame.set_index(["cohort_start_date", "period_number"])
        sizes = frame.groupby("cohort_start_date")["cohort_customers"].max()
        labels, values, status = [], [], []
        for cohort in cohorts:
            size = sizes[cohort]  # null for a cohort below min_group_size (suppressed)
            shown = "suppressed" if is_missing(size) else f"n={int(size):,}"
            labels.append(f"{pd.Timestamp(cohort):%Y-%m} ({shown})")
            row = [_cell(cells, cohort, p) for p in periods]
            values.append([value for value, _ in row])
            status.append([state for _, state in row])
        return cls(labels, periods, values, status)

    def count(self, state: str) -> int:
        return sum(s == state for row in self.status for s in row)

    def heatmap(self) -> str:
        later = [
            v
            for row in self.values
            for p, v in zip(self.periods, row, strict=False)
            if p > 0 and v is not None
        ]
        return svg.heatmap(
            self.labels,
            [str(p) for p in self.periods],
            self.values,
            self.status,
            title="Monthly cohorts: share of customers ordering in month N",
            x_label="months since the first order →",
            color_max=max(0.05, math.ceil(max(later, default=1.0) * 20) / 20),
            id_prefix="cohort",
        )


def _cell(cells: pd.DataFrame, cohort, period: int) -> tuple[float | None, str]:
    if (cohort, period) not in cells.index:
        return None, svg.PENDING  # beyond the periods the mart lists
    cell = cells.loc[(cohort, period)]
    if bool(cell["is_suppressed"]):
        return None, svg.SUPPRESSED
    if is_missing(cell["n_day_retention"]):
        return None, svg.PENDING
    return float(cell["n_day_retention"]), svg.VALUE


def _curves(frame: pd.DataFrame) -> str:
    """One faint line per cohort, the customer-weighted means in bold."""
    done = frame[frame["n_day_retention"].notna()]
    series = [
        svg.Series(
            f"{pd.Timestamp(c):%Y-%m}",
            list(g["period_number"]),
            list(g["n_day_retention"]),
            color="#9ecae1",
            width=1,
            opacity=0.7,
            legend=False,
        )
        for c, g in done.groupby("cohort_start_date")
    ]
    if not done.empty:
        series += _mean_curves(done)
    return svg.line_chart(
        series,
        title="Retention curves (monthly cohorts)",
        x_label="months since the first order",
        y_label="retained",
        y_range=(0.0, 1.0),
        y_format=svg.percent,
        width=520,
        height=340,
    )


def _mean_curves(done: pd.DataFrame) -> list[svg.Series]:
    mean = done.groupby("period_number").agg(
        active=("active_customers", "sum"), size=("cohort_customers", "sum")
    )
    unbounded = done.assign(kept=done["unbounded_retention"] * done["cohort_customers"]).groupby(
        "period_number"
    )
    ub = unbounded["kept"].sum() / unbounded["cohort_customers"].sum()
    return [
        svg.Series(
            "all cohorts, in month N (weighted)",
            list(mean.index),
            list(mean["active"] / mean["size"]),
            color="#08306b",
            width=2.5,
            markers=True,
        ),
        svg.Series(
            "all cohorts, in month N or later",
            list(ub.index),
            list(ub),
            color="#d62728",
            width=2,
            dash="5 3",
        ),
    ]
