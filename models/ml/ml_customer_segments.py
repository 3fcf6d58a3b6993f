"""One segment per customer at as_of_date: KMeans with stable ids and names (retention.segments)."""

from retention.segments import run_segmentation


def model(dbt, session):
    dbt.config(materialized="table")
    # The as-of rows (segmented) and the last mature cutoff's (the churn backtest).
    snapshots = dbt.ref("fct_customer_snapshots").filter("snapshot_number <= 1").df()
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("segments") or {}
    return run_segmentation(snapshots, None, settings)
