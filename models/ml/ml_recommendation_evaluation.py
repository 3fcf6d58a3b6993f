"""Evaluate every recommender out of time, learn the blend's mix, choose (retention.recommend)."""

from retention.recommend.pipeline import run_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    # Ordering only: run after the churn model has trained and scored. dbt runs Python
    # models as threads of one process on two cores, and they slow each other down
    # (docs/toolchain.md, gotcha 10): next to the churn training (demo) or scoring (100k) this
    # model took 3-4x longer than alone (BENCHMARKS.md, "Recommendations").
    dbt.ref("ml_churn_scores")
    # Relations, not DataFrames: the package reads only the columns it needs.
    lines = dbt.ref("int_customer_product_days_aggregated")
    products = dbt.ref("stg_shop__products")
    cutoffs = dbt.ref("int_cutoffs_generated")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("recommend") or {}
    return run_evaluation(lines, products, cutoffs, settings)
