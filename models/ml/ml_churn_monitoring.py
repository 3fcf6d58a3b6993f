"""Matured predictions against outcomes, and drift (retention.churn.monitoring)."""

from retention.churn.monitoring import DRIFT_FEATURES
from retention.churn.pipeline import run_monitoring


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")  # the registry's backtest predictions are written there
    settings = dbt.config.get("monitoring") or {}
    scores = dbt.ref("ml_churn_scores")  # every kept scoring date
    scores = scores.project("customer_id, as_of_date, model_version, churn_probability").df()
    # The days that count against churn: completed-order days (purchase) or any activity.
    days = dbt.ref("int_customer_days_aggregated")
    if settings.get("churn_definition", "purchase") == "purchase":
        days = days.filter("completed_orders > 0")
    days = days.project("customer_id, activity_date").df()
    snapshots = dbt.ref("fct_customer_snapshots")
    features = [c for c in DRIFT_FEATURES if c in snapshots.columns]
    snapshots = snapshots.project(", ".join(["customer_id", "cutoff_date", *features])).df()
    as_of = dbt.ref("int_cutoffs_generated").aggregate("max(as_of_date)").fetchall()[0][0]
    return run_monitoring(scores, days, snapshots, as_of, settings)
