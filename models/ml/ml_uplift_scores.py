"""Estimated uplift of each tested offer for every customer scored at as_of_date, from the
learner chosen in ml_uplift_evaluation refitted on every mature campaign (retention.uplift).
Empty when no learner beat the baselines: the action list then keeps the assumed uplift."""

from retention.uplift.pipeline import UpliftSettings, experiment_frame
from retention.uplift.store import uplift_scores


def model(dbt, session):
    dbt.config(materialized="table")
    config = dbt.config.get("uplift") or {}
    settings = UpliftSettings.from_config(config)
    frame = experiment_frame(
        dbt.ref("int_contacts_outcomes").df(), dbt.ref("int_contacts_featurized").df()
    )
    evaluation = dbt.ref("ml_uplift_evaluation").df()
    customers = dbt.ref("fct_customer_snapshots").filter("is_scoring_cutoff").df()
    return uplift_scores(frame, evaluation, customers, settings)
