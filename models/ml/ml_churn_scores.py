"""Score the as-of snapshot with the champion; returns the kept score history."""

from retention.churn.pipeline import run_scoring


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("ml_churn_training")  # the champion is decided there
    # The relation, not a DataFrame: the package reads the as-of rows and the columns
    # scoring needs, a batch at a time (retention.churn.reads).
    snapshots = dbt.ref("fct_customer_snapshots")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("churn") or {}
    return run_scoring(snapshots, settings)
