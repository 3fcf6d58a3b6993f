"""One row per segment of the run behind ml_customer_segments (retention.segments)."""

from retention.segments import segment_profiles


def model(dbt, session):
    dbt.config(materialized="table")
    assignments = dbt.ref("ml_customer_segments").df()
    return segment_profiles(assignments)
