"""Train, select, calibrate and register the churn model (retention.churn.training)."""

from retention.churn.pipeline import run_training


def model(dbt, session):
    dbt.config(materialized="table")
    snapshots = dbt.ref("fct_customer_snapshots").df()
    return run_training(snapshots, dbt.config.get("churn") or {})
