"""Labels and eligibility of fct_customer_snapshots on hand-written orders, stated row by row.

Replaces two data tests that could not fail (issue 15): one checked that a mature label is
not null, which the mart's coalesce guarantees; the other restated the mart's eligibility
filter. Here four customers are placed around the cutoffs and window edges, and every
snapshot row the warehouse builds, and its label, must be the one written below.

Vars: as_of_date 2024-07-01, 30-day horizon, cutoffs every 30 days, so the spine is
2024-04-02, 2024-05-02, 2024-06-01 (mature: their windows end by as_of_date) and
2024-07-01 (the scoring cutoff: its label is not known yet).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dbt_runner import query, run_dbt

pytestmark = pytest.mark.integration  # a dbt build of the snapshot spine

VARS = {
    "as_of_date": "2024-07-01",
    "churn_horizon_days": 30,
    "snapshot_every_days": 30,
    "max_training_snapshots": 3,
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}
SPINE = [
    "build", "--select", "+fct_customer_snapshots", "--exclude", "test_type:unit",
    "--indirect-selection", "cautious",
]  # fmt: skip

ORDERS = [
    # a: buys in January, on 10 May and on 30 June (the data's last day: as_of_date may be
    # at most the day after it).
    ("a1", "a", "2024-01-10 12:00:00", "completed"),
    ("a2", "a", "2024-05-10 12:00:00", "completed"),
    ("a3", "a", "2024-06-30 12:00:00", "completed"),
    # b: buys in January, then at 00:00 on 1 June: the first day of the 2024-06-01 window
    # and the day the 2024-05-02 window has just ended.
    ("b1", "b", "2024-01-15 12:00:00", "completed"),
    ("b2", "b", "2024-06-01 00:00:00", "completed"),
    # c: first order at 00:00 on the 2024-05-02 cutoff: a label there, not a feature, so
    # c is not yet a customer at that cutoff.
    ("c1", "c", "2024-05-02 00:00:00", "completed"),
    # d: only a cancelled order: never a customer (purchase churn needs a completed one).
    ("d1", "d", "2024-01-20 12:00:00", "cancelled"),
]
# (customer, cutoff) -> is_churned; None: the scoring cutoff, not labelled yet.
EXPECTED = {
    ("a", "2024-04-02"): True,  # nothing in [04-02, 05-02)
    ("a", "2024-05-02"): False,  # the 10 May order
    ("a", "2024-06-01"): False,  # the 30 June order
    ("a", "2024-07-01"): None,
    ("b", "2024-04-02"): True,
    ("b", "2024-05-02"): True,  # the window ends before 06-01 00:00
    ("b", "2024-06-01"): False,  # ...and the next one starts with it
    ("b", "2024-07-01"): None,
    ("c", "2024-06-01"): True,
    ("c", "2024-07-01"): None,
}


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> pd.DataFrame:
    work: Path = tmp_path_factory.mktemp("snapshot_labels")
    raw = work / "raw"
    raw.mkdir()
    orders = pd.DataFrame(ORDERS, columns=["order_id", "customer_id", "ordered_at", "status"])
    orders.assign(order_total="10.00", discount_amount="0.00", coupon_code="").to_csv(
        raw / "orders.csv", index=False
    )
    db = work / "labels.duckdb"
    run_dbt(SPINE, db, dbt_vars={**VARS, "raw_path": str(raw)})
    rows = query(
        db,
        "select customer_id, cast(cutoff_date as varchar), is_label_mature, is_churned,"
        " orders_in_horizon from marts.fct_customer_snapshots",
    )
    columns = ["customer_id", "cutoff", "is_label_mature", "is_churned", "orders_in_horizon"]
    return pd.DataFrame(rows, columns=columns).set_index(["customer_id", "cutoff"])


def test_exactly_the_eligible_customer_cutoffs_are_snapshots(snapshots):
    assert sorted(snapshots.index) == sorted(EXPECTED)


def test_each_label_is_the_hand_written_one(snapshots):
    labels = {key: snapshots.loc[key, "is_churned"] for key in EXPECTED}
    labels = {key: None if pd.isna(value) else bool(value) for key, value in labels.items()}
    assert labels == EXPECTED


def test_the_scoring_cutoff_is_unlabelled_and_the_others_are_mature(snapshots):
    scoring = snapshots.xs("2024-07-01", level="cutoff")
    assert not scoring["is_label_mature"].any()
    assert scoring["orders_in_horizon"].isna().all()
    labelled = snapshots.drop(index="2024-07-01", level="cutoff")
    assert labelled["is_label_mature"].all()
    assert snapshots.loc[("a", "2024-05-02"), "orders_in_horizon"] == 1
    assert snapshots.loc[("b", "2024-05-02"), "orders_in_horizon"] == 0
