"""Every targeting rule's score of the latest past campaign, fitted on the ones before it
(retention.uplift): the uplift learners, the risk baseline, today's risk x value rule and
random. Empty when there are too few campaigns (the action list then keeps the assumed
uplift)."""

from retention.uplift.pipeline import UpliftSettings, experiment_frame
from retention.uplift.store import validation_table


def model(dbt, session):
    dbt.config(materialized="table")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    config = dbt.config.get("uplift") or {}
    settings = UpliftSettings.from_config(config)
    frame = experiment_frame(
        dbt.ref("int_contacts_outcomes").df(), dbt.ref("int_contacts_featurized").df()
    )
    return validation_table(frame, settings)
