"""Matured predictions against outcomes, and drift (retention.churn.monitoring)."""

from retention.churn.monitoring import DRIFT_FEATURES
from retention.churn.pipeline import run_monitoring


def model(dbt, session):
    dbt.config(materialized="table")
    # Every production score and backtest prediction with its outcome, labelled in SQL
    # by the rule that labels the training rows.
    outcomes = dbt.ref("ml_churn_outcomes").df()
    snapshots = dbt.ref("fct_customer_snapshots")
    features = [c for c in DRIFT_FEATURES if c in snapshots.columns]
    snapshots = snapshots.project(", ".join(["customer_id", "cutoff_date", *features])).df()
    return run_monitoring(outcomes, snapshots)
