"""retention.table_diff: the row-for-row comparison behind the Spark parity check and
benchmarks/compare_builds.py."""

from __future__ import annotations

import pandas as pd

from retention.table_diff import frame_differences

BASE = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c"],
        "orders": [1, 2, 3],
        "revenue": [10.0, 20.5, None],
        "is_active": [True, False, True],
    }
)


def test_same_rows_in_another_order_and_float_noise_are_identical():
    shuffled = BASE.iloc[[2, 0, 1]].reset_index(drop=True)
    shuffled["revenue"] = shuffled["revenue"] * (1 + 1e-12)
    assert frame_differences(BASE, shuffled) == []


def test_a_changed_cell_is_named_by_column():
    changed = BASE.copy()
    changed.loc[1, "orders"] = 5
    changed.loc[0, "revenue"] = 10.01
    problems = frame_differences(BASE, changed, labels=("before", "after"))
    assert any(p.startswith("column orders: 1 rows differ") for p in problems), problems
    assert any(p.startswith("column revenue: 1 rows differ") for p in problems), problems


def test_an_added_column_is_reported_and_the_others_still_compared():
    added = BASE.assign(is_new=True)
    assert frame_differences(BASE, added, labels=("before", "after")) == [
        "columns only in before [], only in after ['is_new']"
    ]
    added.loc[2, "orders"] = 9
    assert len(frame_differences(BASE, added)) == 2


def test_row_counts_and_ignored_columns():
    assert frame_differences(BASE, BASE.iloc[:2]) == ["3 rows in left, 2 in right"]
    stamped = BASE.assign(checked_at=pd.Timestamp("2024-01-01"))
    later = BASE.assign(checked_at=pd.Timestamp("2024-06-01"))
    assert frame_differences(stamped, later, ignore_columns={"checked_at"}) == []
    assert frame_differences(stamped, later) != []
