"""Train, validate, select and register the churn model (retention.churn.training)."""

from retention.churn.pipeline import run_training
from retention.definitions import label_horizon_days


def model(dbt, session):
    dbt.config(materialized="table")
    # A relation: training reads all of it, or a customer sample when it is large.
    snapshots = dbt.ref("fct_customer_snapshots")
    # Read only when there are too few labels, to say which var change would give enough.
    days = dbt.ref("int_customer_days_aggregated")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("churn") or {}
    # The label horizon is the one the cutoff spine was built with.
    horizon = label_horizon_days(dbt.ref("int_cutoffs_generated").df())
    return run_training(
        snapshots,
        {**settings, "horizon_days": horizon},
        activity=lambda: days.project("customer_id, activity_date, completed_orders").df(),
    )
