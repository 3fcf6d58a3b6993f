"""Churn model card: the champion run, every model against the baselines on the same
validation origins, the curves, what drives the scores, and the data window."""

from __future__ import annotations

import json

import pandas as pd

from retention.report.components import (
    Section,
    Table,
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_text,
    missing_reason,
)
from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.sections.model_curves import ModelCurves
from retention.report.sections.model_importance import importance_figures
from retention.report.templating import render

KEY, TITLE = "model", "Churn model card"
BASELINE_LEARNERS = ("bg_nbd", "pareto_nbd", "constant_rate")

EVALUATION_COLUMNS = {
    "model_name": str,
    "model_kind": str,
    "auc": fmt_num,
    "pr_auc": fmt_num,
    "log_loss": fmt_num,
    "log_loss_std": fmt_num,
    "brier": fmt_num,
    "ece": fmt_num,
    "lift_top_decile": lambda v: fmt_num(v, 2),
    "aggregate_error": fmt_pct,
}
EVALUATION_HEADERS = {
    "model_name": "model",
    "model_kind": "kind",
    "auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss ↓",
    "log_loss_std": "± across origins",
    "ece": "ECE",
    "lift_top_decile": "lift top 10%",
    "aggregate_error": "aggregate error",
}
WINDOW_COLUMNS = {
    "cutoff_date": fmt_date,
    "label_window_end_date": fmt_date,
    "eligible": fmt_int,
    "churn_rate": fmt_pct,
    "role": str,
}
WINDOW_HEADERS = {
    "cutoff_date": "cutoff",
    "label_window_end_date": "label window ends",
    "eligible": "eligible customers",
    "churn_rate": "churned",
}


def render_section(marts: Marts, ctx: RunContext) -> Section:
    reason = missing_reason(marts, "fct_model_runs", "fct_model_evaluation")
    if reason or ctx.run is None:
        return Section.unavailable(KEY, TITLE, reason or "no model run.")
    run, version = ctx.run, ctx.run["model_version"]
    evaluation = marts.df(
        "select * from marts.fct_model_evaluation where model_version = ?"
        " and (is_shortlisted or model_kind in ('anti_baseline', 'champion')) order by log_loss",
        [version],
    )
    features = json.loads(run["features_json"] or "[]")
    origins = json.loads(run["validation_origins_json"] or "[]")
    curves = None
    if marts.has("fct_model_evaluation_curves"):
        rows = marts.df(
            "select * from marts.fct_model_evaluation_curves where model_version = ?", [version]
        )
        curves = ModelCurves(rows, evaluation).figures()
    body = render(
        "sections/model_card.html.j2",
        facts=run_facts(run, ctx, len(features), origins),
        evaluation=Table.from_frame(
            evaluation,
            EVALUATION_COLUMNS,
            EVALUATION_HEADERS,
            highlight=evaluation["is_chosen"].astype(bool),
        ),
        curves=curves,
        importance=importance_figures(marts, version, ctx.as_of_date),
        features=", ".join(features),
        feature_count=len(features),
        window=data_window(marts, run, origins),
        horizon=ctx.horizon_text,
    )
    return Section(KEY, TITLE, body, True)


def run_facts(
    run: pd.Series, ctx: RunContext, feature_count: int, origins: list[str]
) -> list[tuple[str, str]]:
    """The champion run, one line per fact."""
    best_baseline = (
        f"{fmt_text(run['best_baseline'])} (log loss {fmt_num(run['best_baseline_log_loss'])})"
    )
    facts = [
        ("Model version", run["model_version"]),
        ("Champion", "yes" if run["is_champion"] else "no"),
        ("Trained at (UTC)", str(run["trained_at"])[:19]),
        ("Shipped model", shipped_sentence(run)),
        ("Calibration", fmt_text(run["calibration"])),
        ("Final-model rule", fmt_text(run["final_model"])),
        ("Selection metric", "mean log loss over the validation origins, as shipped"),
        ("Best baseline", best_baseline),
        ("Promotion", fmt_text(run["decision_reason"])),
        ("Scoring date (as_of_date)", fmt_date(run["as_of_date"])),
        ("Label horizon", f"{ctx.horizon_text}: churned = no {ctx.churn_event} in it"),
        ("Validation origins (out of time)", ", ".join(origins) or "-"),
        ("Selection mode", fmt_text(run["selection_mode"])),
        ("Validation rows (all origins)", fmt_int(run["validation_rows"])),
        ("Training snapshots (shipped model)", fmt_int(run["training_cutoffs"])),
        ("Training rows (shipped model)", fmt_int(run["training_rows"])),
        ("Scores above 0.99", fmt_pct(run["share_above_0_99"])),
        ("Decision threshold (max F1)", fmt_num(run["decision_threshold"])),
        ("Features", f"{feature_count}"),
    ]
    return [(label, str(value)) for label, value in facts]


def shipped_sentence(run: pd.Series) -> str:
    """What ships, in words; says so plainly when a baseline beat every classifier."""
    name = fmt_text(run["chosen_model"])
    if run["learner"] in BASELINE_LEARNERS:
        return (
            f"{name}: a baseline beat every classifier on validation, so the baseline ships "
            "(scores, tiers and reasons from recency and purchase frequency)"
        )
    return name


def data_window(marts: Marts, run: pd.Series, origins: list[str]) -> dict | None:
    """Every cutoff, its label window, eligible customers, churn rate and role."""
    if not marts.has("fct_customer_snapshots"):
        return None
    cut = marts.df(
        """
        select cutoff_date, any_value(label_window_end_date) as label_window_end_date,
               count(*) as eligible, bool_or(is_label_mature) as mature,
               avg(is_churned::double) as churn_rate, bool_or(is_scoring_cutoff) as scoring
        from marts.fct_customer_snapshots group by cutoff_date order by cutoff_date
        """
    )
    validation = {pd.Timestamp(d) for d in origins}
    latest = pd.Timestamp(run["validation_cutoff_date"])
    cut["role"] = cut.apply(lambda r: cutoff_role(r, validation, latest), axis=1)
    return {
        "first": fmt_date(cut["cutoff_date"].min()),
        "last": fmt_date(cut["cutoff_date"].max()),
        "table": Table.from_frame(
            cut, WINDOW_COLUMNS, WINDOW_HEADERS, highlight=cut["role"].eq("validation origin")
        ),
    }


def cutoff_role(row: pd.Series, validation: set[pd.Timestamp], latest: pd.Timestamp) -> str:
    """What a cutoff's snapshots were used for in this run."""
    if row["scoring"]:
        return "scoring (label not yet known)"
    if pd.Timestamp(row["cutoff_date"]) in validation:
        return "validation origin"
    if row["mature"] and pd.Timestamp(row["label_window_end_date"]) <= latest:
        return "training (validated models + shipped model)"
    if row["mature"]:
        return "shipped model only (label window overlaps validation)"
    return "not labelled yet"
