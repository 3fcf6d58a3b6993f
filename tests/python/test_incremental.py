"""An incremental build equals a full refresh (docs/architecture.md, "Quality bars").

Raw files grow by one day per build, as a daily export would: on top of the
day's rows each load brings rows that arrive late (two days after their
timestamp, within the lookback), re-sent copies of rows loaded the day
before, a new version of an old order, a new line for an old order, an old
order's lines re-sent in a second delivery file (which replaces them), an event
re-sent with a corrected timestamp, a future-dated and an unparseable row, a
session that spans a load boundary, and a customer whose only order turns
`pending` (they must vanish from customer-days). Every load is built
incrementally into one database; the last files are then built with
`--full-refresh` into another, and every staging, intermediate and SQL mart
relation on the path must be equal row for row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate

pytestmark = pytest.mark.integration  # daily dbt builds

LOOKBACK_DAYS = 3
LATE_BY_DAYS = 2  # < LOOKBACK_DAYS: late rows are inside the window
FIRST_DAY = dt.date(2024, 4, 26)  # loads 1..6 add one day each; load 0 is the history
LAST_DAY = dt.date(2024, 4, 30)  # the generated data ends here
LOADS = 7
SELECT = [
    "build", "--select", "+fct_customer_snapshots", "+fct_cohort_retention", "+fct_source_quality",
    "--exclude", "test_type:unit",
]  # fmt: skip
# Bookkeeping: when a row was last (re)computed, and its row number in the file when
# it was (a cumulative export shifts the rows after a late one, and a row is not
# re-checked just because it moved). They differ by design between an incremental
# history and a full refresh, and no mart reads them.
RUN_SPECIFIC = {"checked_at", "source_row"}
RESEND_FROM_LOAD = 3  # the load that adds a second order_items delivery
COMPARED = [
    "staging.base_shop__orders_checked",
    "staging.base_shop__order_items_checked",
    "staging.base_shop__events_checked",
    "staging.stg_shop__orders",
    "staging.stg_shop__order_items",
    "staging.stg_shop__events",
    "staging.stg_shop__quarantined_rows",
    "intermediate.int_events_sessionized",
    "intermediate.int_customer_days_aggregated",
    "intermediate.int_customer_category_days_aggregated",
    "intermediate.int_cutoffs_generated",
    "intermediate.int_snapshots_featurized",
    "intermediate.int_snapshots_labelled",
    "intermediate.int_customer_cohort_periods_flagged",
    "marts.fct_customer_snapshots",
    "marts.fct_cohort_retention",
    "marts.fct_source_quality",
]


def day_of(timestamp: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(timestamp.strip()[:10])
    except ValueError:
        return None


def at(day: dt.date, clock: str) -> str:
    return f"{day} {clock}"


def plus(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


def schedule(generated: Path) -> list[dict[str, pd.DataFrame]]:
    """The raw tables as delivered at each load: every load holds the previous one."""
    tables = {
        name: pd.read_csv(generated / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("orders", "order_items", "events", "customers", "products")
    }
    orders, items, events = tables["orders"], tables["order_items"], tables["events"]
    # Lines carry a line_id (their number in the order), so a re-sent copy of a line in
    # the same file is a duplicate rather than another unit (README, "Order lines").
    items["line_id"] = (items.groupby("order_id").cumcount() + 1).astype(str)
    # Half the customers' events carry no session_id: sessions are derived from gaps.
    events.loc[events["customer_id"].str[-1].isin(list("02468")), "session_id"] = ""
    orders["arrives"] = arrival(orders, "ordered_at")
    events["arrives"] = arrival(events, "event_at")
    items["arrives"] = items["order_id"].map(
        dict(zip(orders["order_id"], orders["arrives"], strict=True))
    )
    old = orders[
        (orders["ordered_at"].map(lambda t: (day_of(t) or FIRST_DAY) < plus(FIRST_DAY, -30)))
        & (orders["status"] == "completed")
        & ~orders["order_id"].duplicated(keep=False)
    ].iloc[0]
    extra = edge_cases(tables, old)
    for name, frame in extra.items():
        base = tables[name]
        tables[name] = pd.concat(
            [base, pd.DataFrame(frame, columns=base.columns)], ignore_index=True
        )
    # An old order with several lines (all delivered before the first load), re-sent
    # from RESEND_FROM_LOAD on; the same order every time.
    old_orders = set(
        orders.loc[orders["arrives"].map(lambda d: d is None or d < FIRST_DAY), "order_id"]
    )
    counts = items[items["order_id"].isin(old_orders - {old["order_id"]})][
        "order_id"
    ].value_counts()
    resent_order = sorted(o for o, n in counts.items() if n > 1)[0]
    return [delivery(tables, load, resent_order) for load in range(LOADS)]


def arrival(frame: pd.DataFrame, column: str) -> list[dt.date | None]:
    """Load day: the row's own day; two days later for every 7th row of the loaded days."""
    days = [day_of(value) for value in frame[column]]
    return [
        plus(day, LATE_BY_DAYS) if day and day >= FIRST_DAY and number % 7 == 0 else day
        for number, day in enumerate(days)
    ]


def edge_cases(tables: dict[str, pd.DataFrame], old: pd.Series) -> dict[str, list[dict]]:
    """Rows added to the generated data, each with its load day: the cases incremental
    loads get wrong."""
    extra: dict[str, list[dict]] = {"orders": [], "order_items": [], "events": []}

    def add(table: str, arrives: dt.date, **row: str) -> None:
        extra[table].append({**row, "arrives": arrives})

    customer = tables["orders"]["customer_id"].iloc[0]
    # A session across the load boundary, and a late event inside it (no session_id).
    for event_id, day, clock, arrives in [
        ("x-1", FIRST_DAY, "23:50:00", FIRST_DAY),
        ("x-2", plus(FIRST_DAY, 1), "00:10:00", plus(FIRST_DAY, 1)),
        ("x-3", plus(FIRST_DAY, 1), "00:35:00", plus(FIRST_DAY, 3)),
        ("x-4", plus(FIRST_DAY, 1), "01:00:00", plus(FIRST_DAY, 1)),
    ]:
        add("events", arrives, event_id=event_id, customer_id=customer, session_id="",
            event_at=at(day, clock), event_type="page_view", product_id="")  # fmt: skip
    # An event re-sent with a corrected timestamp: the later version wins.
    add("events", plus(FIRST_DAY, 3), event_id="x-2", customer_id=customer, session_id="",
        event_at=at(plus(FIRST_DAY, 1), "00:20:00"), event_type="page_view", product_id="")  # fmt: skip
    # An old order re-sent as returned with a new timestamp: its old day loses the order.
    add("orders", plus(FIRST_DAY, 2), **{**old.drop("arrives").to_dict(), "status": "returned",
        "ordered_at": at(plus(FIRST_DAY, 2), "09:00:00")})  # fmt: skip
    # A new line for an old order (lines have no timestamp).
    items = tables["order_items"]
    next_line = str(
        int(items.loc[items["order_id"] == old["order_id"], "line_id"].astype(int).max()) + 1
    )
    add("order_items", plus(FIRST_DAY, 1), order_id=old["order_id"], line_id=next_line,
        product_id=tables["products"]["product_id"].iloc[0], quantity="2", unit_price="3.50")  # fmt: skip
    # A customer whose only order is later re-sent as pending: no activity left.
    for status, clock, arrives in [("completed", "10:00:00", 0), ("pending", "11:00:00", 2)]:
        add("orders", plus(FIRST_DAY, arrives), order_id="x-o1", customer_id="x-vanishing",
            ordered_at=at(FIRST_DAY, clock), order_total="20.00", status=status,
            discount_amount="0.00", coupon_code="")  # fmt: skip
    # Rows that never become valid in the window.
    add("orders", FIRST_DAY, order_id="x-o2", customer_id=customer, ordered_at="2099-01-01 00:00:00",
        order_total="5.00", status="completed", discount_amount="", coupon_code="")  # fmt: skip
    add("orders", plus(FIRST_DAY, 1), order_id="x-o3", customer_id=customer,
        ordered_at="yesterday", order_total="5.00", status="completed", discount_amount="",
        coupon_code="")  # fmt: skip
    return extra


TIMESTAMPS = {"orders": "ordered_at", "events": "event_at"}


def delivery(tables: dict[str, pd.DataFrame], load: int, resent_order: str) -> dict:
    """What load ``load`` reads: every row arrived before its day, plus re-sent copies."""

    def on_time(name: str, day: dt.date) -> pd.DataFrame:
        frame = tables[name]
        rows = frame["arrives"] == day
        if name in TIMESTAMPS:
            rows &= frame[TIMESTAMPS[name]].map(day_of) == day
        return frame[rows]

    until = plus(FIRST_DAY, load)  # rows arriving before this day
    delivered = {}
    for name, frame in tables.items():
        if "arrives" not in frame:
            delivered[name] = frame
            continue
        arrived = frame[frame["arrives"].map(lambda d, until=until: pd.isna(d) or d < until)]
        # Three rows of each earlier day of the window, re-sent from the next day on.
        resent = [on_time(name, plus(FIRST_DAY, day)).head(3) for day in range(load - 1)]
        delivered[name] = pd.concat([arrived, *resent], ignore_index=True).drop(columns="arrives")
    # From RESEND_FROM_LOAD on, a second delivery re-sends the lines of an old order
    # (one with several lines, not the one that gains a line): they replace the
    # first delivery's copies, which become superseded_line.
    if load >= RESEND_FROM_LOAD:
        lines = delivered["order_items"]
        delivered["order_items_resend"] = lines[lines["order_id"] == resent_order]
    return delivered


def write(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """One file per table; order lines as a folder of deliveries (files load in name order)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "order_items").mkdir(exist_ok=True)
    for name, frame in tables.items():
        if name == "order_items":
            frame.to_csv(folder / "order_items" / "1-cumulative.csv", index=False)
        elif name == "order_items_resend":
            frame.to_csv(folder / "order_items" / "2-resend.csv", index=False)
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)


def snapshot(db: Path, relation: str) -> pd.DataFrame:
    columns = [c[0] for c in query(db, f"describe {relation}") if c[0] not in RUN_SPECIFIC]
    rows = query(db, f"select {', '.join(columns)} from {relation}")
    frame = pd.DataFrame(rows, columns=columns).astype(str)
    return frame.sort_values(columns).reset_index(drop=True)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path, list[dict[str, pd.DataFrame]]]:
    work = tmp_path_factory.mktemp("incremental")
    generate(
        GeneratorConfig(
            customers=200, seed=11, out=work / "generated", format="csv",
            start=dt.date(2024, 1, 1), end=LAST_DAY, events_scale=0.2, defect_rate=0.03,
            quiet=True,
        )
    )  # fmt: skip
    loads = schedule(work / "generated")
    raw = work / "raw"
    dbt_vars = {"raw_path": str(raw), "incremental_lookback_days": LOOKBACK_DAYS}
    incremental = work / "incremental.duckdb"
    for tables in loads:
        write(tables, raw)
        run_dbt(SELECT, incremental, dbt_vars=dbt_vars)
    full = work / "full.duckdb"
    run_dbt([*SELECT, "--full-refresh"], full, dbt_vars=dbt_vars)
    return incremental, full, loads


@pytest.mark.parametrize("relation", COMPARED)
def test_incremental_equals_full_refresh(builds, relation: str) -> None:
    incremental, full, _ = builds
    expected = snapshot(full, relation)
    assert len(expected) > 0, relation
    pd.testing.assert_frame_equal(snapshot(incremental, relation), expected)


def test_the_fixture_exercises_each_case(builds) -> None:
    """The equality above proves little unless the hard cases are in the data."""
    incremental, _, loads = builds
    reasons = dict(
        query(
            incremental,
            "select source_table || ':' || quarantine_reason, count(*)"
            " from staging.stg_shop__quarantined_rows group by 1",
        )
    )
    for case in ["orders:exact_duplicate", "events:exact_duplicate", "order_items:exact_duplicate",
                 "orders:key_duplicate", "events:key_duplicate", "orders:future_timestamp",
                 "orders:unparseable_timestamp", "order_items:superseded_line"]:  # fmt: skip
        assert reasons.get(case, 0) > 0, case
    # raw = clean + quarantined, per source, after the last incremental load
    for table in ("orders", "order_items", "events"):
        [(clean,)] = query(incremental, f"select count(*) from staging.stg_shop__{table}")
        quarantined = sum(v for k, v in reasons.items() if k.startswith(f"{table}:"))
        delivered = sum(len(f) for name, f in loads[-1].items() if name.startswith(table))
        assert clean + quarantined == delivered, table
    # the session across the load boundary, with the late event inside it, is one session
    sessions = query(
        incremental,
        "select count(distinct session_key) from intermediate.int_events_sessionized"
        " where event_id like 'x-%'",
    )
    assert sessions == [(1,)]
    # the customer whose only order turned pending has no customer-days
    assert query(
        incremental,
        "select count(*) from intermediate.int_customer_days_aggregated"
        " where customer_id = 'x-vanishing'",
    ) == [(0,)]
