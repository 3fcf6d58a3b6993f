"""Segments: the segment table, sizes, churn, revenue at risk and retention by segment."""

from __future__ import annotations

import pandas as pd

from retention.report import svg
from retention.report.components import (
    Figure,
    Section,
    Table,
    chart,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_pct,
    is_missing,
    missing_reason,
)
from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.templating import render

KEY, TITLE = "segments", "Segments"

COLUMNS = {
    "segment_name": str,
    "description": lambda v: "(suppressed)" if v is None or is_missing(v) else v,
    "customers": fmt_int,
    "share_of_customers": fmt_pct,
    "mean_orders_count": lambda v: fmt_num(v, 1),
    "mean_revenue_total": fmt_money,
    "backtest_churn_rate": fmt_pct,
    "predicted_churn_rate": fmt_pct,
    "observed_churn_rate": fmt_pct,
}
HEADERS = {
    "segment_name": "segment",
    "share_of_customers": "share",
    "mean_orders_count": "orders (mean)",
    "mean_revenue_total": "revenue (mean)",
    "backtest_churn_rate": "backtest churn",
    "predicted_churn_rate": "predicted churn",
    "observed_churn_rate": "recent churn",
}


def render_section(marts: Marts, ctx: RunContext) -> Section:
    reason = missing_reason(marts, "dim_segments")
    if reason:
        return Section.unavailable(KEY, TITLE, reason)
    seg = marts.df("select * from marts.dim_segments order by segment_id")
    shown = seg[~seg["is_suppressed"].astype(bool)]
    charts = _profile_charts(shown) if not shown.empty else []
    if marts.has("fct_segment_retention"):
        charts += _retention_charts(marts)
    body = render(
        "sections/segments.html.j2",
        segments=len(seg),
        k=fmt_int(seg["k"].iloc[0]),
        silhouette=fmt_num(seg["silhouette"].iloc[0]),
        run_id=str(seg["segment_run_id"].iloc[0]),
        table=Table.from_frame(seg, COLUMNS, HEADERS),
        charts=charts,
    )
    return Section(KEY, TITLE, body, True)


def _profile_charts(shown: pd.DataFrame) -> list[Figure]:
    names = list(shown["segment_name"])
    return [
        chart(
            lambda: svg.bar_chart(
                names, {"customers": list(shown["customers"])}, title="Segment sizes"
            )
        ),
        chart(
            lambda: svg.bar_chart(
                names,
                {
                    "backtest churn": list(shown["backtest_churn_rate"]),
                    "predicted churn": list(shown["predicted_churn_rate"]),
                },
                title="Churn by segment",
                value_format=svg.percent,
            )
        ),
    ]


def _retention_charts(marts: Marts) -> list[Figure]:
    ret = marts.df(
        """
        select segment_name, period_date, retention_rate, revenue_at_risk, is_scoring_period
        from marts.fct_segment_retention order by segment_id, period_date
        """
    )
    charts = []
    at_risk = ret[ret["is_scoring_period"].astype(bool)]
    if at_risk["revenue_at_risk"].notna().any():
        charts.append(
            chart(
                lambda: svg.bar_chart(
                    list(at_risk["segment_name"]),
                    {"revenue at risk": list(at_risk["revenue_at_risk"])},
                    title="Revenue at risk by segment",
                )
            )
        )
    mature = ret[ret["retention_rate"].notna()]
    if not mature.empty:
        charts.append(chart(lambda: _retention_by_cutoff(mature)))
    return charts


def _retention_by_cutoff(mature: pd.DataFrame) -> str:
    """One line per segment: retained in the horizon at each cutoff (x in days, dated)."""
    origin = pd.Timestamp(mature["period_date"].min())

    def days(date) -> int:
        return (pd.Timestamp(date) - origin).days

    def date_label(v: float) -> str:
        return f"{origin + pd.Timedelta(days=v):%Y-%m}"

    return svg.line_chart(
        [
            svg.Series(
                name, [days(d) for d in g["period_date"]], list(g["retention_rate"]), markers=True
            )
            for name, g in mature.groupby("segment_name", sort=False)
        ],
        title="Retention by segment at each cutoff",
        x_label="cutoff (label window starts)",
        y_label="retained in the horizon",
        y_range=(0.0, 1.0),
        y_format=svg.percent,
        x_format=date_label,
    )
