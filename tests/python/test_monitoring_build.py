"""Monitoring across builds: score an earlier as_of_date, then a later one; the earlier
scores come back as matured production rows whose AUC we recompute from the orders.

Small on purpose: 500 generated customers, orders only, one logistic-regression
candidate, no BTYD, no publish.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate

EARLY, LATE = dt.date(2024, 2, 1), dt.date(2024, 7, 1)
HORIZON = 90
SELECT = [
    "--select", "+fct_model_monitoring", "+fct_model_runs", "+fct_model_evaluation",
    "--exclude", "test_type:unit", "--indirect-selection", "cautious",
]  # fmt: skip
VARS = {
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
    "churn_candidates": ["logistic_regression"],
    "churn_use_btyd": False,
    "churn_horizon_days": HORIZON,
    "publish_marts": False,
}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("monitoring")
    raw = work / "raw"
    generate(
        GeneratorConfig(
            customers=500, seed=11, out=raw, format="csv", start=dt.date(2022, 7, 1),
            end=LATE - dt.timedelta(days=1), events_scale=0.0, quiet=True,
        )
    )  # fmt: skip
    db = work / "monitoring.duckdb"
    env = {"RETENTION_ARTIFACTS": str(work / "artifacts")}
    for as_of in (EARLY, LATE):
        dbt_vars = {**VARS, "raw_path": str(raw), "as_of_date": str(as_of)}
        run_dbt(["build", *SELECT], db, dbt_vars=dbt_vars, env=env, timeout=900)
    return db


def frame(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as connection:
        return connection.execute(sql).df()


def test_the_score_history_keeps_both_dates(two_builds):
    counts = dict(
        query(two_builds, "select as_of_date, count(*) from marts.fct_churn_scores group by 1")
    )
    assert set(counts) == {EARLY, LATE}
    duplicates = query(
        two_builds,
        "select count(*) from (select customer_id, as_of_date from marts.fct_churn_scores "
        "group by 1, 2 having count(*) > 1)",
    )[0][0]
    assert duplicates == 0
    scored_late = query(
        two_builds,
        "select count(*) from marts.fct_customer_snapshots where is_scoring_cutoff",
    )[0][0]
    assert counts[LATE] == scored_late


def test_the_matured_earlier_date_is_judged_against_the_orders(two_builds):
    rows = frame(
        two_builds,
        "select * from marts.fct_model_monitoring "
        "where monitoring_kind = 'performance' and source = 'production'",
    )
    rows.index = pd.to_datetime(rows["scoring_date"]).dt.date
    early, late = rows.loc[EARLY], rows.loc[LATE]
    assert early["is_matured"] and early["is_out_of_time"]
    assert not late["is_matured"] and pd.isna(late["auc"]) and late["n_matured"] == 0
    assert pd.Timestamp(late["reference_date"]).date() == EARLY and late["psi"] >= 0

    # Independently: the earlier scores joined to completed orders in [EARLY, EARLY + H).
    joined = frame(
        two_builds,
        f"""
        select
            scores.customer_id,
            scores.churn_probability,
            count(orders.order_id) = 0 as churned
        from marts.fct_churn_scores as scores
        left join staging.stg_shop__orders as orders
            on orders.customer_id = scores.customer_id
                and orders.is_completed
                and orders.ordered_date >= date '{EARLY}'
                and orders.ordered_date < date '{EARLY}' + interval {HORIZON} day
        where scores.as_of_date = date '{EARLY}'
        group by 1, 2
        """,
    )
    assert early["n_scored"] == early["n_matured"] == len(joined)
    assert early["actual_churners"] == joined["churned"].sum()
    assert early["predicted_churners"] == pytest.approx(joined["churn_probability"].sum())
    assert early["auc"] == pytest.approx(
        roc_auc_score(joined["churned"], joined["churn_probability"]), abs=1e-9
    )


def test_each_run_has_an_out_of_time_backtest_row(two_builds):
    runs = frame(
        two_builds, "select model_version, validation_cutoff_date from marts.fct_model_runs"
    )
    backtest = frame(
        two_builds,
        "select * from marts.fct_model_monitoring where source = 'backtest'",
    )
    assert len(runs) == 2
    assert sorted(pd.to_datetime(backtest["scoring_date"])) == sorted(
        pd.to_datetime(runs["validation_cutoff_date"])
    )
    assert backtest["is_matured"].all() and backtest["is_out_of_time"].all()
    assert backtest["auc"].between(0, 1).all() and (backtest["n_matured"] > 0).all()
    # The chosen model's AUC at its validation cutoff is the one the registry recorded.
    evaluation = frame(
        two_builds,
        "select model_version, auc from marts.fct_model_evaluation where is_chosen",
    ).set_index("model_version")["auc"]
    for _, row in backtest.iterrows():
        assert row["auc"] == pytest.approx(evaluation[row["model_version"]], abs=1e-9)
