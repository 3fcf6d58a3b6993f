"""Generated data with injected defects: the quarantine finds exactly what was injected.

The generator records every defect it injects (ground_truth/defects). After a
staging build, per table and reason, the quarantined rows must equal the
injected ones, with one known cascade: order lines of a quarantined order are
quarantined as orphans too, and one known exception: the generator's order
lines have no line_id, so its "duplicate" lines (a copied line, or the same
product with another quantity) are valid lines under the input contract (a
product bought again in one order) and must stay clean. And raw = clean +
quarantined for every table.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
import pytest

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate

pytestmark = pytest.mark.integration  # a dbt build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    raw = tmp_path_factory.mktemp("defects_raw")
    generate(
        GeneratorConfig(
            customers=600, seed=11, out=raw, format="csv", start=dt.date(2023, 1, 1),
            end=dt.date(2023, 12, 31), events_scale=0.1, defect_rate=0.02, quiet=True,
        )
    )  # fmt: skip
    db = raw.parent / "defects.duckdb"
    run_dbt(
        ["build", "--select", "+fct_source_quality", "--exclude", "test_type:unit",
         "--indirect-selection", "cautious"],
        db, dbt_vars={"raw_path": str(raw)},
    )  # fmt: skip
    truth = pd.read_csv(raw / "ground_truth" / "defects.csv", dtype=str)
    return raw, db, truth


# Copies of an order line without a line_id: valid lines (README, "Order lines").
LINE_COPIES = ("exact_duplicate", "key_duplicate")


def expected_reason(row) -> str:
    # Bad quantities have a reason of their own; everything else keeps its class name.
    if (
        row["table"] == "order_items"
        and row["column"] == "quantity"
        and row["defect_class"] == "negative_amount"
    ):
        return "invalid_quantity"
    return row["defect_class"]


def test_every_injected_defect_is_quarantined_with_its_reason(built):
    _raw, db, truth = built
    assert len(truth) > 50, "the fixture should inject defects, or this test proves nothing"
    injected = Counter((r["table"], expected_reason(r)) for _, r in truth.iterrows())
    found = Counter(
        {
            (t, reason): n
            for t, reason, n in query(
                db,
                "select source_table, quarantine_reason, count(*) from staging.stg_shop__quarantined_rows group by 1, 2",
            )
        }
    )
    for (table, reason), count in injected.items():
        if table == "order_items" and reason in ("orphan_order_item", *LINE_COPIES):
            continue
        assert found[(table, reason)] == count, (table, reason, found[(table, reason)], count)
    extra = {k: v for k, v in found.items() if k not in injected and k[1] != "orphan_order_item"}
    assert extra == {}


def test_copied_order_lines_without_a_line_id_stay_clean(built):
    """Each injected line copy, found by its position in the file (source_row), is clean."""
    _raw, db, truth = built
    copies = truth[(truth["table"] == "order_items") & truth["defect_class"].isin(LINE_COPIES)]
    assert len(copies) > 0, "the fixture should copy order lines, or this test proves nothing"
    outcome = dict(
        query(
            db,
            "select source_row, coalesce(quarantine_reason, 'clean')"
            " from staging.base_shop__order_items_checked where source_file = 'order_items.csv'",
        )
    )
    for _, copy in copies.iterrows():
        # a copy of a line of a quarantined order is an orphan like the original
        assert outcome[int(copy["defect_row_number"])] in ("clean", "orphan_order_item"), copy
    assert sum(outcome[int(r)] == "clean" for r in copies["defect_row_number"]) > 0


def test_orphans_are_injected_orphans_plus_lines_of_quarantined_orders(built):
    _raw, db, truth = built
    orphan_orders = {
        order_id
        for (order_id,) in query(
            db,
            "select order_id from staging.base_shop__order_items_checked "
            "where quarantine_reason = 'orphan_order_item'",
        )
    }
    # Orders that exist in the raw file but not in staging: quarantined ones, and
    # those whose id the generator nulled (their original id is in the truth).
    lost_orders = {
        order_id
        for (order_id,) in query(
            db,
            "select order_id from staging.base_shop__orders_checked "
            "where quarantine_reason is not null and order_id is not null",
        )
    } | set(
        truth.loc[(truth["table"] == "orders") & (truth["defect_class"] == "null_key"), "key_value"]
    )
    injected = set(
        truth.loc[
            (truth["table"] == "order_items") & (truth["defect_class"] == "orphan_order_item"),
            "written_value",
        ]
    )
    assert injected, "the fixture should inject orphan order lines"
    assert injected <= orphan_orders
    assert orphan_orders <= injected | lost_orders


def test_raw_equals_clean_plus_quarantined(built):
    _, db, _ = built
    rows = query(
        db,
        """
        select source_table, max(raw_row_count), sum(row_count)
        from marts.fct_source_quality group by 1
        """,
    )
    assert len(rows) == 5
    for table, raw_rows, accounted in rows:
        assert raw_rows == accounted, table
