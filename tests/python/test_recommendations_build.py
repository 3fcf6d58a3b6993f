"""The recommendation marts in a real dbt build, under each recommend_owned_products rule.

The demo build (default `learned`) runs the data test of the rule; here a small generated
shop is built with `never` and `always`, so the test's other branches run on real data and the
marts show what the rule promises. The churn model is kept small (logistic regression, no
BTYD) because only its risk tiers are needed.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate

pytestmark = pytest.mark.integration  # dbt builds

AS_OF = dt.date(2024, 7, 1)
# The rule's data test and everything it reads (both marts, the owned products).
SELECT = [
    "build", "--select", "+assert_recommendations_follow_the_owned_products_rule",
    "--exclude", "test_type:unit",
]  # fmt: skip


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recommendations_raw")
    generate(
        GeneratorConfig(
            customers=1000, seed=3, out=folder, format="csv", start=dt.date(2023, 1, 1),
            end=AS_OF - dt.timedelta(days=1), events_scale=0.05, quiet=True,
        )
    )  # fmt: skip
    return folder


def build(raw, tmp_path, rule: str):
    db = tmp_path / f"{rule}.duckdb"
    run_dbt(
        SELECT,
        db,
        dbt_vars={
            "raw_path": str(raw),
            "as_of_date": str(AS_OF),
            "recommend_owned_products": rule,
            "churn_candidates": ["logistic_regression"],
            "churn_use_btyd": False,
            "publish_marts": False,
        },
        env={"RETENTION_ARTIFACTS": str(tmp_path / "artifacts")},
    )
    return db


OWNED = """
    select
        count(*),
        coalesce(sum(case when owned.product_id is not null then 1 else 0 end), 0),
        coalesce(sum(case when r.is_repeat_purchase then 1 else 0 end), 0)
    from marts.fct_product_recommendations as r
    left join intermediate.int_customer_products_aggregated as owned
        on r.customer_id = owned.customer_id and r.product_id = owned.product_id
"""


def test_never_lists_no_owned_product(raw, tmp_path):
    db = build(raw, tmp_path, "never")
    rows, owned, flagged = query(db, OWNED)[0]
    assert rows > 0 and owned == 0 and flagged == 0
    names = {
        name
        for (name,) in query(
            db, "select distinct recommender from marts.fct_recommendation_evaluation"
        )
    }
    assert names and not names & {"buy_again", "blend"}
    assert not any(name.endswith("_incl_owned") for name in names)


def test_always_lets_owned_products_through_and_flags_them(raw, tmp_path):
    db = build(raw, tmp_path, "always")
    rows, owned, flagged = query(db, OWNED)[0]
    assert rows > 0 and owned == flagged  # the flag says the truth (the data test checks it too)
    [(filtered,)] = query(
        db, "select count(*) from marts.fct_recommendation_evaluation where not includes_owned"
    )
    assert filtered == 0
