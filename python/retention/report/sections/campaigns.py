"""Campaigns and uplift: what each past campaign did against its random control group, and
the targeting rules (uplift learners against the baselines) on the held-out campaign.

The campaign marts exist only when the build ran with ``enable_contacts: true``. Without
them the section is left out of the page (a build without a contacts source has no
campaigns to report, like one without recommendations has no recommendation section);
when they were built but are empty, it says "Not available for this data" and why.
"""

from __future__ import annotations

import pandas as pd

from retention.report.components import (
    DASH,
    Figure,
    Section,
    Table,
    chart,
    fmt_date,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_pct,
    is_missing,
    missing_reason,
)
from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.sections.campaign_charts import calibration_chart, qini_chart
from retention.report.templating import render

KEY, TITLE = "campaigns", "Campaigns and uplift"
CAMPAIGN_MARTS = (
    "fct_campaign_results",
    "fct_uplift_evaluation",
    "fct_uplift_qini_curve",
    "fct_uplift_calibration",
)
RULE_ORDER = {"t_learner": 0, "x_learner": 1, "risk": 2, "risk_x_value": 3, "random": 4}

RESULT_COLUMNS = {
    "campaign_id": str,
    "campaign_date": fmt_date,
    "offer_type": str,
    "treated_customers": fmt_int,
    "control_customers": fmt_int,
    "retention_rate_treated": fmt_pct,
    "retention_rate_control": fmt_pct,
    "retention_effect_text": str,
    "revenue_effect": lambda v: fmt_num(v, 2),
    "net_revenue_per_contact": lambda v: fmt_num(v, 2),
    "significant": str,
}
RESULT_HEADERS = {
    "campaign_id": "campaign",
    "campaign_date": "date",
    "offer_type": "offer",
    "treated_customers": "treated",
    "control_customers": "control",
    "retention_rate_treated": "retained (treated)",
    "retention_rate_control": "retained (control)",
    "retention_effect_text": "retention effect [95% CI]",
    "revenue_effect": "revenue effect",
    "net_revenue_per_contact": "net revenue / contact",
    "significant": "significant",
}
EVALUATION_COLUMNS = {
    "offer_type": str,
    "rule": str,
    "rule_kind": lambda v: str(v).replace("_", " "),
    "qini_coefficient": lambda v: fmt_num(v, 4),
    "uplift_top_10pct": lambda v: points(v),
    "selected_rows": fmt_int,
    "profit_text": str,
    "difference_text": str,
    "ships": str,
}
EVALUATION_HEADERS = {
    "offer_type": "offer",
    "rule_kind": "kind",
    "qini_coefficient": "Qini coefficient",
    "uplift_top_10pct": "uplift in top 10%",
    "selected_rows": "contacted rows",
    "profit_text": "incremental profit [95% CI]",
    "difference_text": "vs best baseline [95% CI]",
    "ships": "ships",
}


def render_section(marts: Marts, ctx: RunContext) -> Section | None:
    if not any(table in marts.tables for table in CAMPAIGN_MARTS):
        return None  # built without enable_contacts: no campaigns, no section
    reason = missing_reason(marts, "fct_campaign_results")
    if reason:
        return Section.unavailable(KEY, TITLE, reason)
    results = marts.df(
        "select * from marts.fct_campaign_results where recency_band = 'all'"
        " order by campaign_date, campaign_id, offer_type"
    )
    body = render(
        "sections/campaigns.html.j2",
        campaigns=fmt_int(results["campaign_id"].nunique()),
        results=results_table(results),
        uplift=uplift_part(marts),
    )
    return Section(KEY, TITLE, body, True)


def points(value, signed: bool = True) -> str:
    """A difference of rates in percentage points."""
    if is_missing(value):
        return DASH
    return f"{float(value) * 100:{'+' if signed else ''}.1f} pp"


def with_interval(value, low, high, fmt) -> str:
    """``value [low, high]``; the interval left out when it was not computed."""
    if is_missing(value):
        return DASH
    if is_missing(low) or is_missing(high):
        return fmt(value)
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def signed_money(value) -> str:
    return fmt_money(value) if is_missing(value) or float(value) < 0 else f"+{fmt_money(value)}"


def results_table(results: pd.DataFrame) -> Table:
    """One row per campaign and offer (recency_band 'all'); significant ones highlighted."""
    results = results.copy()
    results["retention_effect_text"] = [
        with_interval(r.retention_effect, r.retention_effect_ci_low, r.retention_effect_ci_high,
                      points)
        for r in results.itertuples()
    ]  # fmt: skip
    significant = results["is_retention_effect_significant"]
    results["significant"] = [DASH if pd.isna(s) else ("yes" if s else "no") for s in significant]
    return Table.from_frame(
        results,
        RESULT_COLUMNS,
        RESULT_HEADERS,
        highlight=significant.fillna(False).astype(bool),
        css="nowrap",
    )


def uplift_part(marts: Marts) -> dict:
    """The targeting rules on the held-out campaign: table, Qini and calibration charts,
    or why there is nothing to show (fewer than two campaigns with mature outcomes)."""
    reason = missing_reason(marts, "fct_uplift_evaluation")
    if reason:
        return {
            "reason": f"{reason} The targeting rules are compared on the latest campaign "
            "after learning from the earlier ones, so this needs at least two campaigns "
            "whose outcome windows have ended."
        }
    evaluation = marts.df("select * from marts.fct_uplift_evaluation")
    evaluation = evaluation.sort_values(
        ["offer_type", "rule"], key=lambda s: s.map(RULE_ORDER) if s.name == "rule" else s
    )
    chosen = evaluation.loc[evaluation["is_chosen"].fillna(False).astype(bool), "rule"]
    first = first_offer(evaluation)
    return {
        "reason": None,
        "campaign": str(evaluation["campaign_id"].iloc[0]),
        "training_campaigns": fmt_int(evaluation["training_campaigns"].max()),
        "budget": fmt_money(evaluation["budget"].iloc[0]),
        "chosen": str(chosen.iloc[0]) if len(chosen) else None,
        "weak_evidence": weak_evidence(evaluation),
        "table": evaluation_table(evaluation),
        "offer": first,
        "figures": [
            qini_figure(marts, first),
            calibration_figure(marts, first, shown_learner(evaluation)),
        ],
    }


def weak_evidence(evaluation: pd.DataFrame) -> list[dict[str, str]]:
    """The offers on which the chosen learner's paired interval against the best baseline
    reaches 0 or below: the held-out campaign cannot tell them apart there (small campaigns;
    BENCHMARKS.md "Uplift")."""
    chosen = evaluation["is_chosen"].fillna(False).astype(bool)
    rows = evaluation[chosen & (evaluation["difference_ci_low"] <= 0)]
    return [
        {
            "offer": str(r.offer_type),
            "baseline": str(r.best_baseline),
            "difference": difference_text(r),
        }
        for r in rows.itertuples()
    ]  # fmt: skip


def difference_text(row) -> str:
    """A rule's profit difference with the best baseline and its paired interval."""
    return with_interval(row.difference_vs_best_baseline, row.difference_ci_low,
                         row.difference_ci_high, signed_money)  # fmt: skip


def first_offer(evaluation: pd.DataFrame) -> str:
    return str(sorted(evaluation["offer_type"].unique())[0])


def shown_learner(evaluation: pd.DataFrame) -> tuple[str, bool] | None:
    """The learner whose calibration is drawn: the chosen one, else the uplift learner with
    the highest incremental profit (and that it was not chosen)."""
    models = evaluation[evaluation["rule_kind"] == "uplift_model"]
    if models.empty:
        return None
    chosen = models[models["is_chosen"].fillna(False).astype(bool)]
    if len(chosen):
        return str(chosen["rule"].iloc[0]), True
    totals = models.groupby("rule")["incremental_profit"].sum().sort_values(ascending=False)
    return str(totals.index[0]), False


def evaluation_table(evaluation: pd.DataFrame) -> Table:
    evaluation = evaluation.copy()
    evaluation["profit_text"] = [
        with_interval(r.incremental_profit, r.incremental_profit_ci_low,
                      r.incremental_profit_ci_high, signed_money)
        for r in evaluation.itertuples()
    ]  # fmt: skip
    evaluation["difference_text"] = [
        "(the best baseline)" if r.rule == r.best_baseline else difference_text(r)
        for r in evaluation.itertuples()
    ]
    chosen = evaluation["is_chosen"].fillna(False).astype(bool)
    evaluation["ships"] = ["yes" if c else "" for c in chosen]
    return Table.from_frame(evaluation, EVALUATION_COLUMNS, EVALUATION_HEADERS, highlight=chosen)


def qini_figure(marts: Marts, offer: str) -> Figure:
    if not marts.has("fct_uplift_qini_curve"):
        return Figure(None, reason=missing_reason(marts, "fct_uplift_qini_curve") or "")
    curve = marts.df(
        "select * from marts.fct_uplift_qini_curve where offer_type = ?"
        " order by rule, share_targeted",
        [offer],
    )
    return chart(
        lambda: qini_chart(curve, offer, RULE_ORDER),
        "Incremental customers retained (treated retained − control retained, scaled to the "
        "treated rows) when each rule targets its top share of the held-out rows. Above "
        "the dashed line = better than contacting at random; the higher the curve at the "
        "left, the more the rule finds the customers a contact persuades.",
    )


def calibration_figure(marts: Marts, offer: str, learner: tuple[str, bool] | None) -> Figure:
    if learner is None or not marts.has("fct_uplift_calibration"):
        reason = missing_reason(marts, "fct_uplift_calibration") or "no uplift learner."
        return Figure(None, reason=reason)
    rule, is_chosen = learner
    bins = marts.df(
        "select * from marts.fct_uplift_calibration where offer_type = ? and rule = ?"
        " order by uplift_decile",
        [offer, rule],
    )
    label = rule if is_chosen else f"{rule} (best learner, not shipped)"
    return chart(
        lambda: calibration_chart(bins, label, offer),
        "Deciles of predicted uplift on the held-out rows (1 = highest). Observed = treated "
        "minus control retention in the decile, with its 95% interval (few rows per decile: "
        "wide).",
    )
