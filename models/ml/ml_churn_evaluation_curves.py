"""Lift-by-decile and calibration curves of the shortlisted models, every run."""

from retention.churn.pipeline import evaluation_history


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")
    return evaluation_history(table="curves")
