"""The model card's "what drives the scores": permutation importance per feature family
(fct_model_feature_importance) and each customer's strongest reason (fct_churn_scores)."""

from __future__ import annotations

import pandas as pd

from retention.report import svg
from retention.report.components import Figure, chart
from retention.report.data import Marts


def importance_figures(marts: Marts, version: str, as_of_date: str | None) -> list[Figure]:
    figures = []
    if marts.has("fct_model_feature_importance"):
        families = marts.df(
            "select feature_name, log_loss_increase from marts.fct_model_feature_importance"
            " where model_version = ? and scope = 'family' order by log_loss_increase desc",
            [version],
        )
        if len(families):
            figures.append(chart(lambda: _importance_chart(families)))
    if marts.has("fct_churn_scores", "reason_1_family") and as_of_date is not None:
        figures.append(chart(lambda: _reasons_chart(_strongest_reasons(marts, as_of_date))))
    return figures


def _importance_chart(families: pd.DataFrame) -> str:
    return svg.bar_chart(
        list(families["feature_name"]),
        {"log loss increase": list(families["log_loss_increase"].clip(lower=0))},
        title="Global importance by feature family (shuffled, out of time)",
        value_format=lambda v: f"{v:.3f}",
        width=520,
    )


def _strongest_reasons(marts: Marts, as_of_date: str) -> pd.DataFrame:
    """At the build's scoring date (dim_definitions): the scores mart keeps earlier dates."""
    return marts.df(
        """
        select coalesce(reason_1_family, 'none') as family,
               count(*) as customers,
               count(*) filter (where risk_tier = 'high') as high_risk
        from marts.fct_churn_scores
        where as_of_date = cast(? as date)
        group by 1 order by customers desc
        """,
        [as_of_date],
    )


def _reasons_chart(reasons: pd.DataFrame) -> str:
    total, high = reasons["customers"].sum(), reasons["high_risk"].sum()
    groups = {"all scored": list(reasons["customers"] / total)}
    if high:
        groups["high risk"] = list(reasons["high_risk"] / high)
    return svg.bar_chart(
        list(reasons["family"]),
        groups,
        title="Strongest churn reason (feature family), share of customers",
        value_format=svg.percent,
        width=520,
    )
