"""Summary: customers, active customers, observed and predicted churn, revenue at risk."""

from __future__ import annotations

import pandas as pd

from retention.report.components import (
    Card,
    Section,
    fmt_date,
    fmt_int,
    fmt_money,
    fmt_pct,
    is_missing,
    missing_reason,
)
from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.templating import render

KEY, TITLE = "summary", "Summary"


def render_section(marts: Marts, ctx: RunContext) -> Section:
    reason = missing_reason(marts, "dim_customers")
    if reason:
        return Section.unavailable(KEY, TITLE, reason)
    totals = _customer_totals(marts, ctx.horizon_days)
    cards = [
        *_customer_cards(totals, ctx),
        _observed_churn_card(_latest_mature_churn(marts), ctx.horizon_days),
        Card(
            "Churn rate (predicted)",
            fmt_pct(totals["predicted_churn"]),
            f"mean probability of {fmt_int(totals['scored'])} scored customers; "
            f"{fmt_int(totals['high_risk'])} at high risk",
        ),
        Card(
            "Revenue at risk",
            fmt_money(totals["revenue_at_risk"]),
            "sum of CLV × churn probability",
        ),
    ]
    notes = [n for n in (no_model_note(ctx), amounts_note(marts)) if n]
    if is_missing(totals["revenue_at_risk"]) and not notes:
        notes.append(
            "Revenue at risk needs CLV (BG/NBD + Gamma-Gamma), which was not computed "
            "for this data."
        )
    return Section(KEY, TITLE, render("sections/summary.html.j2", cards=cards, notes=notes), True)


def _customer_totals(marts: Marts, horizon_days: int) -> pd.Series:
    return marts.df(
        f"""
        select
            max(as_of_date) as as_of_date,
            count(*) as customers,
            count(*) filter (where days_since_last_order < {int(horizon_days)}) as active,
            count(churn_probability) as scored,
            avg(churn_probability) as predicted_churn,
            sum(churn_probability) as expected_churners,
            count(*) filter (where risk_tier = 'high') as high_risk,
            sum(revenue_at_risk) as revenue_at_risk,
            sum(clv) as clv
        from marts.dim_customers
        """
    ).iloc[0]


def _latest_mature_churn(marts: Marts) -> pd.Series | None:
    """Eligible customers and churn rate at the latest cutoff whose label is known."""
    if not marts.has("fct_customer_snapshots"):
        return None
    observed = marts.df(
        """
        select cutoff_date, count(*) as labelled, avg(is_churned::double) as churn_rate
        from marts.fct_customer_snapshots
        where is_label_mature
        group by cutoff_date order by cutoff_date desc limit 1
        """
    )
    return observed.iloc[0] if len(observed) else None


def _customer_cards(totals: pd.Series, ctx: RunContext) -> list[Card]:
    horizon = f"{ctx.horizon_days} days" + (
        " (default; no model run)" if ctx.horizon_is_default else ""
    )
    return [
        Card("Customers", fmt_int(totals["customers"]), f"as of {fmt_date(totals['as_of_date'])}"),
        Card(
            "Active customers",
            fmt_int(totals["active"]),
            f"{fmt_pct(totals['active'] / totals['customers'])} ordered in the last {horizon}",
        ),
    ]


def _observed_churn_card(observed: pd.Series | None, horizon_days: int) -> Card:
    if observed is None:
        return Card("Churn rate (observed)", "–", "no mature label window yet")
    return Card(
        "Churn rate (observed)",
        fmt_pct(observed["churn_rate"]),
        f"of {fmt_int(observed['labelled'])} customers eligible at "
        f"{fmt_date(observed['cutoff_date'])}: no order in the next {horizon_days} days",
    )


def amounts_note(marts: Marts) -> str | None:
    """Why spend, CLV and revenue at risk are missing, when orders lack amounts
    (fct_source_quality.without_amount_count; README, "Orders without amounts")."""
    if not marts.has("fct_source_quality", "without_amount_count"):
        return None
    row = marts.one(
        "select row_count, without_amount_count from marts.fct_source_quality"
        " where source_table = 'orders' and outcome = 'clean'"
    )
    if not row or not row[1]:
        return None
    clean, missing = int(row[0]), int(row[1])
    if missing == clean:
        return (
            f"No order has an amount (order_total is empty or absent on all {clean:,} clean "
            "orders): spend features, CLV and revenue at risk are left out, and the action list "
            "values customers by expected orders (× value_per_order when set; see value_basis)."
        )
    return (
        f"{missing:,} of {clean:,} clean orders have no amount (order_total empty): the spend "
        "features, CLV and revenue at risk of the customers who placed them are null (a total "
        "with an unknown part is unknown), and so are the revenue totals that include them; the "
        "action list values those customers by expected orders × value_per_order."
    )


def no_model_note(ctx: RunContext) -> str | None:
    """Why there are no churn scores, when no model was trained (churn_on_insufficient_labels:
    skip and no earlier champion)."""
    if ctx.run is not None:
        return None
    return (
        "No churn model: there were too few labelled rows to train one, and the build ran with "
        "churn_on_insufficient_labels: skip. Churn probabilities and risk tiers are null; the "
        "action list ranks customers on the BG/NBD baseline, P(no purchase in the horizon) "
        "(score_source)."
    )
