"""Matured predictions against outcomes, and drift (retention.churn.monitoring)."""

from retention.churn.pipeline import run_monitoring


def model(dbt, session):
    dbt.config(materialized="table")
    # Every production score and backtest prediction with its outcome, labelled in SQL
    # by the rule that labels the training rows.
    outcomes = dbt.ref("ml_churn_outcomes").df()
    # The relation: the package reads the drift features one cutoff at a time.
    snapshots = dbt.ref("fct_customer_snapshots")
    return run_monitoring(outcomes, snapshots)
