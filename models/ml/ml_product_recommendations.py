"""Lists for the at-risk customers from the chosen recommender (retention.recommend)."""

from retention.recommend.pipeline import run_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    evaluation = dbt.ref("ml_recommendation_evaluation")  # the choice and the mix
    scores = dbt.ref("ml_churn_scores")  # who is at risk at as_of_date
    lines = dbt.ref("int_customer_product_days_aggregated")
    products = dbt.ref("stg_shop__products")
    cutoffs = dbt.ref("int_cutoffs_generated")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("recommend") or {}
    return run_recommendations(lines, products, cutoffs, scores, evaluation, settings)
