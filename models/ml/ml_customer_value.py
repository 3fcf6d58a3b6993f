"""BG/NBD P(alive) and expected purchases, and Gamma-Gamma CLV, at as_of_date."""

from retention.churn.pipeline import run_customer_value


def model(dbt, session):
    dbt.config(materialized="table")
    # The relation: the package reads only the buyers' as-of rows (retention.churn.reads).
    snapshots = dbt.ref("fct_customer_snapshots")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("churn") or {}
    return run_customer_value(snapshots, settings)
