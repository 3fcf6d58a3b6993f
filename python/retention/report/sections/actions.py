"""Action list: how many customers fit the budget, what they cost and are worth, the top 20."""

from __future__ import annotations

from retention.report.components import (
    Section,
    Table,
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

KEY, TITLE = "actions", "Action list (top 20)"
TOP = 20

COLUMNS = {
    "action_rank": fmt_int,
    "customer_id": str,
    "churn_probability": fmt_pct,
    "risk_tier": str,
    "clv": fmt_money,
    "expected_value": lambda v: fmt_num(v, 2),
    "offer_type": str,
    "offer_cost": lambda v: fmt_num(v, 2),
    "cumulative_cost": lambda v: fmt_num(v, 2),
    "reason": str,
    "assignment": str,
}
HEADERS = {
    "action_rank": "rank",
    "customer_id": "customer",
    "churn_probability": "P(churn)",
    "risk_tier": "risk",
    "clv": "CLV",
    "expected_value": "expected value",
    "offer_type": "offer",
    "offer_cost": "cost",
    "cumulative_cost": "cumulative cost",
}
VALUE_BASIS = {
    "clv": "CLV",
    "expected_orders_x_value_per_order": "expected orders × value per order (no CLV: "
    "orders without amounts)",
    "expected_orders": "expected orders only (no order has an amount and value_per_order "
    "is not set, so no money value: ranked by expected orders saved)",
}


def render_section(marts: Marts, ctx: RunContext) -> Section:
    reason = missing_reason(marts, "fct_retention_actions")
    if reason:
        return Section.unavailable(KEY, TITLE, reason)
    contacted = _contacted_filter(marts)
    count, cost, value = marts.one(
        "select count(*), sum(offer_cost), sum(expected_value)"
        f" from marts.fct_retention_actions{contacted}"
    )
    top = marts.df(f"select * from marts.fct_retention_actions order by action_rank limit {TOP}")
    body = render(
        "sections/actions.html.j2",
        customers=fmt_int(count),
        cost=fmt_money(cost),
        saved=None if is_missing(value) else fmt_money(value),
        valued_by=_valued_by(marts) or "CLV",
        baseline_scores="btyd_p_no_purchase" in _score_sources(marts),
        held_out=_held_out(marts),
        table=Table.from_frame(top, COLUMNS, HEADERS),
    )
    return Section(KEY, TITLE, body, True)


def _contacted_filter(marts: Marts) -> str:
    """Only the rows to contact count: the list also holds its random control group and,
    with an uplift model, customers not to disturb (a publish before them has neither)."""
    if "assignment" not in marts.columns("fct_retention_actions"):
        return ""
    return " where assignment = 'treatment'"


def _held_out(marts: Marts) -> dict[str, str]:
    """How many rows of the list are not to be contacted, by assignment."""
    if "assignment" not in marts.columns("fct_retention_actions"):
        return {}
    rows = marts.connection.execute(
        "select assignment, count(*) from marts.fct_retention_actions"
        " where assignment <> 'treatment' group by 1"
    ).fetchall()
    return {assignment: fmt_int(n) for assignment, n in rows}


def _valued_by(marts: Marts) -> str:
    """What customers are valued by (value_basis), with how many of each."""
    if "value_basis" not in marts.columns("fct_retention_actions"):
        return ""
    bases = dict(
        marts.connection.execute(
            "select value_basis, count(*) from marts.fct_retention_actions group by 1"
        ).fetchall()
    )
    return "; ".join(
        f"{VALUE_BASIS.get(basis, basis)} for {fmt_int(n)}" for basis, n in sorted(bases.items())
    )


def _score_sources(marts: Marts) -> set[str]:
    """Where P(churn) came from (score_source): the model, or the BG/NBD baseline."""
    if "score_source" not in marts.columns("fct_retention_actions"):
        return set()
    rows = marts.connection.execute(
        "select distinct score_source from marts.fct_retention_actions"
    ).fetchall()
    return {r[0] for r in rows}
