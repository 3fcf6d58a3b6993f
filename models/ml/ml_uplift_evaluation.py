"""Each targeting rule judged on the held-out campaign (retention.uplift): Qini, uplift in
the top 10%/30%, and the estimated incremental profit of its list at the budget with
paired bootstrap intervals; is_chosen marks the uplift learner that ships, if any."""

from retention.uplift.pipeline import UpliftSettings
from retention.uplift.store import evaluation_table


def model(dbt, session):
    dbt.config(materialized="table")
    config = dbt.config.get("uplift") or {}
    settings = UpliftSettings.from_config(config)
    return evaluation_table(dbt.ref("ml_uplift_validation").df(), settings)
