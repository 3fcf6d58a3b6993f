"""BG/NBD P(alive) and expected purchases, and Gamma-Gamma CLV, at as_of_date."""

from retention.churn.pipeline import run_customer_value


def model(dbt, session):
    dbt.config(materialized="table")
    snapshots = dbt.ref("fct_customer_snapshots").df()
    return run_customer_value(snapshots, dbt.config.get("churn") or {})
