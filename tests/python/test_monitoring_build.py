"""Two real builds, an earlier as_of_date then a later one:

- monitoring: the earlier scores come back as matured production rows whose AUC we
  recompute from the orders;
- BI readers: while the second build runs, a reader keeps reading the published marts
  (published/<db>/current) with DuckDB; every read must see one complete publish.

Small on purpose: 500 generated customers, orders only, one logistic-regression
candidate, no BTYD baselines in training. Both tests share the builds to pay for them once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dbt_runner import REPO_ROOT, DbtRunError, dbt_env, query, run_dbt
from retention.datagen import GeneratorConfig, generate
from retention.dbt_runner import DBT

EARLY, LATE = dt.date(2024, 2, 1), dt.date(2024, 7, 1)
HORIZON = 84  # not the default 90: a var that failed to reach the Python model would show
BUILD = ["build", "--exclude", "test_type:unit"]
VARS = {
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
    "churn_candidates": ["logistic_regression"],
    "churn_use_btyd": False,
    "churn_horizon_days": HORIZON,
}


def read_publish(current: Path) -> dict:
    """One BI read: resolve ``current`` once (as README tells readers to), then check
    that every table of its manifest is there with the manifest's row count."""
    build = Path(os.path.realpath(current))
    manifest = json.loads((build / "manifest.json").read_text())
    with duckdb.connect() as reader:
        counts = {
            t["table_name"]: reader.execute(
                f"select count(*) from read_parquet('{build / t['file']}')"
            ).fetchone()[0]
            for t in manifest["tables"]
        }
    expected = {t["table_name"]: t["rows"] for t in manifest["tables"]}
    return {"build_id": manifest["build_id"], "complete": counts == expected, "tables": counts}


def build_while_reading(command: list[str], env: dict, current: Path) -> tuple[list, list]:
    """Run a dbt build in a subprocess; read the publish over and over until it ends."""
    reads, errors = [], []
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                reads.append(read_publish(current))
            except Exception as error:  # noqa: BLE001 - every failed read is a finding
                errors.append(repr(error))
            time.sleep(0.05)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        output, _ = process.communicate(timeout=900)
    finally:
        done.set()
        thread.join(timeout=60)
    if process.returncode != 0:
        raise AssertionError(f"dbt build failed:\n{output[-4000:]}")
    reads.append(read_publish(current))  # after the build: the new publish
    return reads, errors


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> dict:
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
    published = work / "published"
    base = {**VARS, "raw_path": str(raw), "publish_path": str(published)}
    started = time.perf_counter()
    try:
        run_dbt(BUILD, db, dbt_vars={**base, "as_of_date": str(EARLY)}, env=env, timeout=900)
    except DbtRunError as error:
        pytest.fail(str(error))
    first = time.perf_counter() - started
    current = published / db.stem / "current"
    first_build_id = read_publish(current)["build_id"]
    command = [
        str(DBT), *BUILD, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT),
        "--vars", json.dumps({**base, "as_of_date": str(LATE)}),
    ]  # fmt: skip
    started = time.perf_counter()
    reads, errors = build_while_reading(command, dbt_env(db, work / "dbt", env), current)
    print(f"builds: {first:.0f}s, {time.perf_counter() - started:.0f}s; {len(reads)} reads")
    return {"db": db, "reads": reads, "errors": errors, "first_build_id": first_build_id}


def frame(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as connection:
        return connection.execute(sql).df()


def test_the_score_history_keeps_both_dates(two_builds):
    db = two_builds["db"]
    counts = dict(query(db, "select as_of_date, count(*) from marts.fct_churn_scores group by 1"))
    assert set(counts) == {EARLY, LATE}
    duplicates = query(
        db,
        "select count(*) from (select customer_id, as_of_date from marts.fct_churn_scores "
        "group by 1, 2 having count(*) > 1)",
    )[0][0]
    assert duplicates == 0
    scored_late = query(
        db,
        "select count(*) from marts.fct_customer_snapshots where is_scoring_cutoff",
    )[0][0]
    assert counts[LATE] == scored_late


def test_the_matured_earlier_date_is_judged_against_the_orders(two_builds):
    db = two_builds["db"]
    rows = frame(
        db,
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
        db,
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


def test_each_run_has_an_out_of_time_backtest_row_per_origin(two_builds):
    db = two_builds["db"]
    runs = frame(db, "select model_version, validation_origins_json from marts.fct_model_runs")
    backtest = frame(
        db,
        "select * from marts.fct_model_monitoring where source = 'backtest'",
    )
    assert len(runs) == 2
    origins = sorted(
        pd.Timestamp(d) for text in runs["validation_origins_json"] for d in json.loads(text)
    )
    # One row per validation origin; a later run re-validating a date replaces the earlier.
    assert set(pd.to_datetime(backtest["scoring_date"])) == set(origins)
    assert backtest["is_matured"].all() and backtest["is_out_of_time"].all()
    assert backtest["auc"].between(0, 1).all() and (backtest["n_matured"] > 0).all()
    # The chosen recipe's AUC at each origin is the one the registry recorded there.
    per_origin = frame(
        db,
        "select o.model_version, o.origin_date, o.auc from marts.fct_model_evaluation_origins o"
        " join marts.fct_model_evaluation e using (model_version, model_name) where e.is_chosen",
    )
    per_origin["origin_date"] = pd.to_datetime(per_origin["origin_date"])
    per_origin = per_origin.set_index(["model_version", "origin_date"])["auc"]
    for _, row in backtest.iterrows():
        key = (row["model_version"], pd.Timestamp(row["scoring_date"]))
        assert row["auc"] == pytest.approx(per_origin[key], abs=1e-9)


def test_bi_readers_see_a_complete_publish_throughout_a_build(two_builds):
    reads, errors = two_builds["reads"], two_builds["errors"]
    assert not errors, errors[:5]
    assert len(reads) > 10, "the reader barely ran during the build"
    incomplete = [r for r in reads if not r["complete"]]
    assert not incomplete, incomplete[:3]
    # The reads saw the first publish while the build ran, then the new one at the end.
    build_ids = [r["build_id"] for r in reads]
    assert build_ids[0] == two_builds["first_build_id"]
    assert build_ids[-1] != two_builds["first_build_id"]
    assert build_ids == sorted(build_ids)  # never back to an older publish
    published = set(reads[-1]["tables"])
    assert {"fct_model_monitoring", "fct_churn_scores", "dim_customers"} <= published
    with duckdb.connect(str(two_builds["db"]), read_only=True) as connection:
        listed = {r[0] for r in connection.execute(
            "select table_name from publish.publish_mart_tables").fetchall()}  # fmt: skip
    assert published == listed
