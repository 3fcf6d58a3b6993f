"""Validation metrics of every candidate and baseline, for every registered run."""

from retention.churn.pipeline import evaluation_history


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")
    return evaluation_history()
