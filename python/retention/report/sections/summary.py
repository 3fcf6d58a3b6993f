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
    totals = _customer_totals(marts)
    cards = [
        *_customer_cards(totals, ctx),
        _observed_churn_card(_latest_mature_churn(marts, ctx), ctx),
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


def _customer_totals(marts: Marts) -> pd.Series:
    # "Active" is dim_customers.is_active: the one definition the marts and MetricFlow use.
    return marts.df(
        """
        select
            count(*) as customers,
            count(*) filter (where is_active) as active,
            count(churn_probability) as scored,
            avg(churn_probability) as predicted_churn,
            sum(churn_probability) as expected_churners,
            count(*) filter (where risk_tier = 'high') as high_risk,
            sum(revenue_at_risk) as revenue_at_risk,
            sum(clv) as clv
        from marts.dim_customers
        """
    ).iloc[0]


def _latest_mature_churn(marts: Marts, ctx: RunContext) -> pd.Series | None:
    """Eligible customers and churn rate at the build's latest mature cutoff."""
    if not marts.has("fct_customer_snapshots") or ctx.latest_mature_cutoff is None:
        return None
    observed = marts.df(
        """
        select cutoff_date, count(*) as labelled, avg(is_churned::double) as churn_rate
        from marts.fct_customer_snapshots
        where cutoff_date = cast(? as date) and is_label_mature
        group by cutoff_date
        """,
        [ctx.latest_mature_cutoff],
    )
    return observed.iloc[0] if len(observed) else None


def _customer_cards(totals: pd.Series, ctx: RunContext) -> list[Card]:
    window = ctx.active_window_days
    window_text = "the active window" if window is None else f"the last {window} days"
    return [
        Card("Customers", fmt_int(totals["customers"]), f"as of {fmt_date(ctx.as_of_date)}"),
        Card(
            "Active customers",
            fmt_int(totals["active"]),
            f"{fmt_pct(totals['active'] / totals['customers'])} with an order or event in "
            f"{window_text}",
        ),
    ]


def _observed_churn_card(observed: pd.Series | None, ctx: RunContext) -> Card:
    if observed is None:
        return Card("Churn rate (observed)", "–", "no mature label window yet")
    return Card(
        "Churn rate (observed)",
        fmt_pct(observed["churn_rate"]),
        f"of {fmt_int(observed['labelled'])} customers eligible at "
        f"{fmt_date(observed['cutoff_date'])}: no {ctx.churn_event} in the next "
        f"{ctx.horizon_text}",
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
