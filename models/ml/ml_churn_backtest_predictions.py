"""The registry's out-of-time validation predictions, the latest run's per cutoff
(retention.churn.monitoring): the backtests ml_churn_outcomes joins to their outcomes."""

from retention.churn.monitoring import backtest_predictions


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")  # the registry's backtest predictions are written there
    return backtest_predictions()
