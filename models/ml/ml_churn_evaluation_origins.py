"""Every recipe's metrics at every validation origin, every run (the spread behind the means)."""

from retention.churn.pipeline import evaluation_history


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")
    return evaluation_history(table="origins")
