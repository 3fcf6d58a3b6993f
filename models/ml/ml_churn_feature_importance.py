"""Permutation importance of the chosen recipe, per feature and family, every run."""

from retention.churn.pipeline import evaluation_history


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")
    return evaluation_history(table="importance")
