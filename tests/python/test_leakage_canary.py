"""Leakage canary: data dated at or after a cutoff must change no feature at that cutoff.

Build the feature spine on generated data with a fixed as_of_date, then rebuild
after appending orders, order lines and events (for existing and brand-new
customers):
  1. dated exactly at the last mature cutoff c_0 (00:00:00) and later, before
     as_of: no feature at any cutoff <= c_0 may change, and the new customers
     may not appear there; labels do change (proof the rows got in);
  2. dated at as_of and later: the snapshot table must not change at all.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate

pytestmark = pytest.mark.integration  # dbt builds

AS_OF = dt.date(2024, 7, 1)
SPINE = [
    "build", "--select", "+fct_customer_snapshots", "--exclude", "test_type:unit",
    "--indirect-selection", "cautious",
]  # fmt: skip
LABEL_COLUMNS = {"is_churned", "orders_in_horizon", "revenue_in_horizon"}


@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("canary_raw")
    generate(
        GeneratorConfig(
            customers=400, seed=7, out=out, format="csv", start=dt.date(2023, 1, 1),
            end=AS_OF - dt.timedelta(days=1), events_scale=0.2, quiet=True,
        )
    )  # fmt: skip
    return out


def build(raw: Path, work: Path, name: str) -> pd.DataFrame:
    db = work / f"{name}.duckdb"
    run_dbt(SPINE, db, dbt_vars={"raw_path": str(raw), "as_of_date": str(AS_OF)})
    columns = [c[0] for c in query(db, "describe marts.fct_customer_snapshots")]
    rows = query(db, "select * from marts.fct_customer_snapshots")
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["cutoff_date", "customer_id"]).reset_index(drop=True)


def with_future_rows(raw: Path, target: Path, first_day: dt.date) -> None:
    """Copy `raw` to `target` and append activity from `first_day` (00:00:00) on."""
    target.mkdir()
    tables = {t: pd.read_csv(raw / f"{t}.csv", dtype=str, keep_default_na=False) for t in
              ("orders", "order_items", "products", "events", "customers")}  # fmt: skip
    customers = list(tables["orders"]["customer_id"].drop_duplicates().head(60))
    new_customers = [f"canary{i}" for i in range(5)]
    product = tables["products"]["product_id"].iloc[0]
    orders, items, events = [], [], []
    for i, customer in enumerate(customers + new_customers):
        for day in (0, 1, 20):
            at = f"{first_day + dt.timedelta(days=day)} 00:00:00"
            order_id = f"canary-o{i}-{day}"
            orders.append([order_id, customer, at, "10.00", "completed", "0.00", ""])
            items.append([order_id, product, "1", "10.00"])
            events.append(
                [f"canary-e{i}-{day}", customer, f"canary-s{i}-{day}", at, "purchase", ""]
            )
    tables["orders"] = pd.concat(
        [tables["orders"], pd.DataFrame(orders, columns=tables["orders"].columns)]
    )
    tables["order_items"] = pd.concat(
        [tables["order_items"], pd.DataFrame(items, columns=tables["order_items"].columns)]
    )
    tables["events"] = pd.concat(
        [tables["events"], pd.DataFrame(events, columns=tables["events"].columns)]
    )
    for name, frame in tables.items():
        frame.to_csv(target / f"{name}.csv", index=False)


@pytest.fixture(scope="module")
def baseline(raw_folder, tmp_path_factory):
    work = tmp_path_factory.mktemp("canary_base")
    return build(raw_folder, work, "baseline")


def test_rows_at_or_after_c0_change_no_feature_up_to_c0(raw_folder, baseline, tmp_path):
    c0 = baseline.loc[baseline["snapshot_number"] == 1, "cutoff_date"].iloc[0]
    with_future_rows(raw_folder, tmp_path / "raw", c0)
    canary = build(tmp_path / "raw", tmp_path, "canary")

    features = [c for c in baseline.columns if c not in LABEL_COLUMNS]
    before = baseline[baseline["cutoff_date"] <= c0]
    after = canary[canary["cutoff_date"] <= c0]
    assert not after["customer_id"].str.startswith("canary").any()
    pd.testing.assert_frame_equal(
        before[features].reset_index(drop=True), after[features].reset_index(drop=True)
    )
    # The injected orders did reach the pipeline: labels at c0 moved.
    churned_before = before.loc[before["cutoff_date"] == c0, "is_churned"].sum()
    churned_after = after.loc[after["cutoff_date"] == c0, "is_churned"].sum()
    assert churned_after < churned_before
    # ... and so did features after c0 (the scoring cutoff sees them).
    scoring_before = baseline[baseline["snapshot_number"] == 0]
    scoring_after = canary[canary["snapshot_number"] == 0]
    assert scoring_after["customer_id"].str.startswith("canary").any()
    assert len(scoring_after) > len(scoring_before)


def test_rows_at_or_after_as_of_change_nothing(raw_folder, baseline, tmp_path):
    with_future_rows(raw_folder, tmp_path / "raw", AS_OF)
    canary = build(tmp_path / "raw", tmp_path, "canary")
    pd.testing.assert_frame_equal(baseline, canary)
