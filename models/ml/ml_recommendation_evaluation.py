"""Evaluate every recommender out of time, learn the blend's mix, choose (retention.recommend)."""

from retention.recommend.pipeline import run_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    # Ordering only: start once the SQL layers are done, beside churn training, not before
    # (it would compete with the SQL on the build's critical path) and not after scoring
    # (then it ran alone at the end, mostly on one core: its work holds the GIL). Beside
    # training it runs slower and training does too, but the build ends sooner: 155.6 s
    # against 161.0 s at 100k, two alternated whole builds each (BENCHMARKS.md, "Scale: the
    # whole build").
    dbt.ref("fct_customer_snapshots")
    # Relations, not DataFrames: the package reads only the columns it needs.
    lines = dbt.ref("int_customer_product_days_aggregated")
    products = dbt.ref("stg_shop__products")
    cutoffs = dbt.ref("int_cutoffs_generated")
    # A plain assignment: dbt only sees dbt.config.get() calls that are not nested
    # in an expression argument, and would otherwise pass the model no config.
    settings = dbt.config.get("recommend") or {}
    return run_evaluation(lines, products, cutoffs, settings)
