"""One segment per customer at as_of_date: KMeans with stable ids and names (retention.segments)."""

from retention.definitions import label_horizon_days
from retention.segments import run_segmentation, segmentation_rows


def model(dbt, session):
    dbt.config(materialized="table")
    # The as-of rows (segmented) and the latest mature cutoff's (the churn backtest), as
    # the cutoff spine flags them (the one definition of both), only the columns read.
    cutoffs = dbt.ref("int_cutoffs_generated")
    snapshots = segmentation_rows(dbt.ref("fct_customer_snapshots"), cutoffs)
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("segments") or {}
    # Recency bands in the names are multiples of the build's label horizon.
    settings = {**settings, "horizon_days": label_horizon_days(cutoffs.df())}
    return run_segmentation(snapshots, None, settings)
