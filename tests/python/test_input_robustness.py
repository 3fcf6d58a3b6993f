"""Real-world input without losing a row (issue 13): hand-written bad inputs, one per policy.

Each case builds a folder written here, by hand, and asserts what was kept, quarantined
or refused, with the message (README, "Bring your own data"):

1. orders without amounts are clean; totals with an unknown part are null; an
   orders-only file whose order_total is empty on every row builds the whole project,
   trains and scores, unedited;
2. order lines: identical lines without a line_id are kept, keyed lines are
   deduplicated on (order_id, line_id), a re-sent order does not double its lines, and
   a warn-only test compares line totals with order totals;
3. ties between versions of a key go to the later row in load order, never a hash;
4. a corrupt file on an existing warehouse fails closed: nothing built or published;
5. the CSV dialect is fixed (vars override it) and malformed lines are quarantined
   with file and line, so raw = clean + quarantined still holds;
6. quality gates warn above 1% of a source quarantined and stop the build above 50%;
7. churn_on_insufficient_labels: skip builds and publishes every mart;
8. `retention summary` prints where the marts are really published.

Every staging build also checks raw = clean + quarantined per source (the dbt test
assert_raw_rows_reconcile runs in each build, and assert_reconciles counts again here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import NO_UNIT_TESTS, REPO_ROOT, STAGING, query, run_dbt
from retention.datagen import GeneratorConfig, generate
from retention.publish import CURRENT, MANIFEST
from retention.report import build_report

pytestmark = pytest.mark.integration  # dbt builds

BUILD = ["build", *NO_UNIT_TESTS]
OPTIONAL = ["customers", "order_items", "products", "events"]
RETENTION = Path(sys.executable).with_name("retention")


def only(*enabled: str) -> dict[str, bool]:
    """Vars switching off every optional table not named."""
    return {f"enable_{table}": table in enabled for table in OPTIONAL}


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def text(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_nothing_ran(result: subprocess.CompletedProcess[str]) -> str:
    """It failed in the on-run-start hooks: non-zero, and no model, seed or test started."""
    out = text(result)
    assert result.returncode != 0, out[-3000:]
    assert " START " not in out.replace("START hook", ""), out[-3000:]
    return out


def outcomes(db: Path, table: str) -> list[tuple]:
    """(record key, outcome) of every raw row of a source, sorted."""
    keys = {
        "orders": "order_id",
        "order_items": "concat(order_id, '|', coalesce(line_id, '-'), '|', product_id)",
    }
    rows = query(
        db,
        f"select {keys[table]}, coalesce(quarantine_reason, 'clean')"
        f" from staging.base_shop__{table}_checked",
    )
    return sorted(rows, key=str)


def assert_reconciles(db: Path, tables: list[str]) -> None:
    """raw = clean + quarantined, per source, counted from three models."""
    for table in tables:
        [(raw,)] = query(db, f"select count(*) from staging.base_shop__{table}")
        [(clean,)] = query(db, f"select count(*) from staging.stg_shop__{table}")
        [(quarantined,)] = query(
            db,
            "select count(*) from staging.stg_shop__quarantined_rows where source_table = ?",
            [table],
        )
        assert raw == clean + quarantined, table


def relations_state(db: Path) -> dict[str, tuple]:
    """Every relation: kind, view definition, and (tables) row count and checksum."""
    with duckdb.connect(str(db), read_only=True) as connection:
        views = dict(
            connection.execute(
                "select schema_name || '.' || view_name, sql from duckdb_views() where not internal"
            ).fetchall()
        )
        state = {}
        for schema, name, kind in connection.execute(
            "select table_schema, table_name, table_type from information_schema.tables"
            " where table_schema not in ('information_schema', 'pg_catalog')"
        ).fetchall():
            key = f"{schema}.{name}"
            if kind == "VIEW":  # its definition is the state; reading it may read files
                state[key] = (kind, views.get(key))
                continue
            rows = connection.execute(f'select * from "{schema}"."{name}"').fetchall()
            digest = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
            state[key] = (kind, len(rows), digest)
    return state


def generated_orders(folder: Path, customers: int, seed: int) -> pd.DataFrame:
    """The orders of a generated shop (no injected defects), as text."""
    generate(
        GeneratorConfig(
            customers=customers, seed=seed, out=folder, format="csv", start=dt.date(2023, 1, 1),
            end=dt.date(2024, 6, 30), events_scale=0.0, quiet=True,
        )
    )  # fmt: skip
    return pd.read_csv(folder / "orders.csv", dtype=str, keep_default_na=False)


# ---------------------------------------------------------------- 1. amounts


def test_orders_without_an_amount_are_clean(tmp_path: Path) -> None:
    """order_total absent from one delivery and empty in another: clean orders with a
    null amount. Text that is not an amount, or a negative one, is still quarantined."""
    raw = write(
        tmp_path / "raw",
        {
            "orders/2024-03-01.csv": "order_id,customer_id,ordered_at\n"
            "o1,c1,2024-03-01 10:00:00\no2,c2,2024-03-01 11:00:00\n",
            "orders/2024-03-02.csv": "order_id,customer_id,ordered_at,order_total\n"
            "o3,c1,2024-03-02 10:00:00,\no4,c2,2024-03-02 11:00:00,12.50\n"
            "o5,c3,2024-03-02 12:00:00,abc\no6,c3,2024-03-02 13:00:00,-3\n",
        },
    )
    db = tmp_path / "amounts.duckdb"
    run_dbt(["build", *STAGING], db, dbt_vars={"raw_path": str(raw), **only()})
    assert outcomes(db, "orders") == [
        ("o1", "clean"), ("o2", "clean"), ("o3", "clean"), ("o4", "clean"),
        ("o5", "non_numeric_amount"), ("o6", "negative_amount"),
    ]  # fmt: skip
    amounts = query(db, "select order_id, order_total from staging.stg_shop__orders order by 1")
    assert [(o, None if t is None else float(t)) for o, t in amounts] == [
        ("o1", None), ("o2", None), ("o3", None), ("o4", 12.5),
    ]  # fmt: skip
    assert query(
        db,
        "select row_count, raw_row_count, without_amount_count from marts.fct_source_quality"
        " where source_table = 'orders' and outcome = 'clean'",
    ) == [(4, 6, 3)]
    assert_reconciles(db, ["orders"])


def test_an_unknown_amount_makes_a_total_unknown_not_smaller(tmp_path: Path) -> None:
    """c1 has every amount; c2 has one order without one. c2's revenue features, that
    day's revenue and its RFM monetary score are null (F stands in for M); c1's are exact."""
    lines = ["order_id,customer_id,ordered_at,order_total"]
    for day in range(1, 29, 3):  # ten orders each over four weeks
        lines.append(f"a{day},c1,2024-01-{day:02d} 10:00:00,10.00")
        lines.append(f"b{day},c2,2024-01-{day:02d} 11:00:00,{'' if day == 4 else '20.00'}")
    raw = write(tmp_path / "raw", {"orders.csv": "\n".join(lines) + "\n"})
    db = tmp_path / "partial.duckdb"
    run_dbt(
        [
            "build",
            "--select",
            "+int_customers_rfm_scored",
            "+fct_customer_snapshots",
            "--exclude",
            "test_type:unit",
        ],
        db,
        dbt_vars={"raw_path": str(raw), "min_history_days": 7, **only()},
    )
    day_revenue = {
        f"{customer} {day}": None if revenue is None else float(revenue)
        for customer, day, revenue in query(
            db,
            "select customer_id, cast(activity_date as varchar), revenue"
            " from intermediate.int_customer_days_aggregated"
            " where activity_date in ('2024-01-04', '2024-01-07')",
        )
    }
    assert day_revenue == {
        "c1 2024-01-04": 10.0, "c2 2024-01-04": None, "c1 2024-01-07": 10.0, "c2 2024-01-07": 20.0,
    }  # fmt: skip
    features = {
        customer: (revenue, aov, revenue_365d)
        for customer, revenue, aov, revenue_365d in query(
            db,
            "select customer_id, revenue_total, avg_order_value, revenue_365d"
            " from marts.fct_customer_snapshots where is_scoring_cutoff",
        )
    }
    assert features == {"c1": (100.0, 10.0, 100.0), "c2": (None, None, None)}
    rfm = {
        customer: (cell, monetary, fm)
        for customer, cell, monetary, fm, frequency in query(
            db,
            "select customer_id, rfm_cell, monetary_score, frequency_monetary_score,"
            " frequency_score from intermediate.int_customers_rfm_scored",
        )
        if frequency  # one row each
    }
    assert rfm["c2"][0].endswith("-") and rfm["c2"][1] is None
    assert rfm["c1"][1] is not None and not rfm["c1"][0].endswith("-")


@pytest.fixture(scope="module")
def frequency_only(tmp_path_factory: pytest.TempPathFactory):
    """The acceptance case: an orders-only export whose order_total is empty on every row,
    built as it is (no edits, default models and vars) and published. The build passing
    is the first assertion (run_dbt raises otherwise)."""
    work = tmp_path_factory.mktemp("frequency_only")
    orders = generated_orders(work / "generated", customers=600, seed=13)
    orders["order_total"] = ""
    raw = work / "raw"
    raw.mkdir()
    orders.to_csv(raw / "orders.csv", index=False)
    db = work / "shop.duckdb"
    dbt_vars = {"raw_path": str(raw), "publish_path": str(work / "published"), **only()}
    env = {"RETENTION_ARTIFACTS": str(work / "artifacts")}
    result = run_dbt(BUILD, db, dbt_vars=dbt_vars, env=env, timeout=1800)
    return work, db, dbt_vars, env, text(result)


def test_frequency_only_orders_build_train_and_score(frequency_only) -> None:
    work, db, _, _, log = frequency_only
    [(clean, raw, without)] = query(
        db,
        "select row_count, raw_row_count, without_amount_count from marts.fct_source_quality"
        " where source_table = 'orders' and outcome = 'clean'",
    )
    assert clean == raw == without > 1000  # every order kept, none with an amount
    # A model was trained and scored every eligible customer.
    assert query(db, "select count(*) from marts.fct_model_runs where is_champion") == [(1,)]
    [(eligible, scored)] = query(
        db,
        "select count(*), count(churn_probability) from marts.dim_customers"
        " where is_eligible_for_scoring",
    )
    assert eligible > 100 and scored == eligible
    # Spend is left out, not zero: no amount reaches a feature, CLV or revenue at risk.
    assert query(
        db,
        "select count(revenue_total), count(avg_order_value), count(clv), count(revenue_at_risk)"
        " from marts.dim_customers",
    ) == [(0, 0, 0, 0)]
    [(features,)] = query(db, "select features_json from marts.fct_model_runs where is_champion")
    assert "revenue" not in features and "avg_order_value" not in features
    # The action list still ranks, on expected orders (no amount, no value_per_order).
    actions = query(
        db,
        "select value_basis, score_source, count(*), count(expected_value),"
        " min(action_rank), max(action_rank) from marts.fct_retention_actions group by 1, 2",
    )
    assert len(actions) == 1, actions
    basis, source, rows, with_value, first, last = actions[0]
    assert (basis, source, with_value, first) == ("expected_orders", "champion_model", 0, 1)
    assert rows > 0 and last == rows
    # The build log and the report say why.
    assert "CLV not computed: CLV needs order amounts, and no order has one (order_total)" in log
    assert "the action list values customers by expected orders x value_per_order" in log
    build_report(db, work / "report.html", work / "published")
    html = (work / "report.html").read_text()
    assert "No order has an amount (order_total is empty or absent on all" in html
    assert "expected orders only (no order has an amount and value_per_order is not set" in html


# ---------------------------------------------------------------- 4. fail closed

CORRUPT_ORDERS = (
    b"order_id,customer_id,ordered_at,order_total\n"
    b"n1,c1,2024-06-01 10:00:00,\n"
    b"n2,c2,2024-06-01 11:00:00,,surplus\n"  # line 3: a column too many
    b"n3,c3,2024-06-0\xff1 12:00:00,\n"  # line 4: not UTF-8
    b"n4,c4,2024-06-01 13:00:00,\n"
    b"n5,c5,2024-06"  # line 6: cut off (no newline, two columns short)
)


def test_a_corrupt_file_on_an_existing_warehouse_changes_nothing(frequency_only, tmp_path):
    """The issue's case, built into a warehouse with a publish: a truncated last line, a
    line with a column too many and bytes that are not UTF-8. dbt exits non-zero before
    any node runs, names the file, the lines and what to do; the raw views, every table
    and the published `current` stay as they were."""
    work, db, dbt_vars, env, _ = frequency_only
    target = work / "published" / db.stem
    before_current = os.readlink(target / CURRENT)
    before = relations_state(db)
    corrupt = write(tmp_path / "corrupt", {"orders.csv": CORRUPT_ORDERS})

    result = run_dbt(
        ["build"], db, dbt_vars={**dbt_vars, "raw_path": str(corrupt)}, env=env, check=False
    )
    out = assert_nothing_ran(result)
    assert f"Cannot read the raw files in {corrupt}; nothing was built and the published" in out
    assert (
        "orders.csv line 6: the last line is incomplete (missing columns: Expected Number of"
        " Columns: 4 Found: 3): the file looks cut off, so rows after it are missing. Copy or"
        " export the whole file again." in out
    )
    assert (
        "orders.csv: 3 malformed line(s), line 3 (too many columns), line 4 (invalid encoding),"
        " line 6 (missing columns)" in out
    )
    assert "raw.orders <- " not in out  # nothing was registered
    assert os.readlink(target / CURRENT) == before_current
    assert relations_state(db) == before


def test_a_failing_registration_skips_every_node(tmp_path: Path) -> None:
    """Belt and braces: if the hook's DDL itself fails (here a raw_schema name that is not
    SQL), dbt skips every node instead of building on the previous raw views
    (skip_nodes_if_on_run_start_fails), and the warehouse is unchanged."""
    good = write(
        tmp_path / "good", {"orders.csv": "order_id,customer_id,ordered_at\no1,c1,2024-06-01\n"}
    )
    db = tmp_path / "hook.duckdb"
    run_dbt(["build", *STAGING], db, dbt_vars={"raw_path": str(good), **only()})
    before = relations_state(db)
    newer = write(
        tmp_path / "newer", {"orders.csv": "order_id,customer_id,ordered_at\no2,c2,2024-06-02\n"}
    )
    result = run_dbt(
        ["build", *STAGING], db,
        dbt_vars={"raw_path": str(newer), "raw_schema": "not a schema", **only()}, check=False,
    )  # fmt: skip
    out = text(result)
    assert result.returncode != 0
    assert "retention.on-run-start.1 failed" in out or "ERROR hook" in out, out[-3000:]
    assert " START sql" not in out and "SKIP relation staging.base_shop__orders" in out, out[-3000:]
    assert relations_state(db) == before


# ---------------------------------------------------------------- 5. dialect and malformed lines

MALFORMED_ORDERS = (
    b"order_id,customer_id,ordered_at,order_total\n"
    b'm1,"c1, the first",2024-06-01 10:00:00,5.00\n'  # a quoted delimiter: fine
    b'm2,"c2\nwith a line break",2024-06-01 11:00:00,6.00\n'  # lines 3-4: one record
    b"m3,c3,2024-06-01 12:00:00,7.00,surplus\n"  # line 5: a column too many
    b"m4,c4,2024-06-01 13:00:\xe900,8.00\n"  # line 6: Latin-1 byte in a UTF-8 file
    b'm5,"c5"x,2024-06-01 14:00:00,9.00\n'  # line 7: text after a closing quote
    b"m6,c6,2024-06-01 15:00:00\n"  # line 8: a column short (not the last line)
    b'm7,"c7 ""the quoted""",2024-06-01 16:00:00,10.00\n'  # doubled quotes: fine
)


def test_malformed_lines_are_quarantined_with_file_and_line(tmp_path: Path) -> None:
    """A complete file with malformed lines loads: each malformed line is a raw row
    quarantined as malformed_line with its file, line (as an editor counts, after a
    value with a line break) and what was wrong; the other lines are clean."""
    raw = write(
        tmp_path / "raw",
        {
            "orders.csv": MALFORMED_ORDERS,
            "order_items/part-1.csv": "order_id,product_id,quantity,unit_price\n"
            "m1,p1,1,5.00\nm7,p2,2,5.00,oops\n",
        },
    )
    db = tmp_path / "malformed.duckdb"
    result = run_dbt(
        ["build", *STAGING],
        db,
        dbt_vars={"raw_path": str(raw), "quarantine_error_share": 1, **only("order_items")},
    )
    out = text(result)
    assert "raw.orders <- " in out and "4 malformed line(s) to quarantine" in out
    clean = query(db, "select order_id, customer_id from staging.stg_shop__orders order by 1")
    assert clean == [
        ("m1", "c1, the first"), ("m2", "c2\nwith a line break"), ("m7", 'c7 "the quoted"'),
    ]  # fmt: skip
    quarantined = query(
        db,
        "select source_table, source_file, source_line, quarantine_reason, malformed_reason"
        " from staging.stg_shop__quarantined_rows order by 1, 2, 3",
    )
    assert [row[:4] for row in quarantined] == [
        ("order_items", "order_items/part-1.csv", 3, "malformed_line"),
        ("orders", "orders.csv", 5, "malformed_line"),
        ("orders", "orders.csv", 6, "malformed_line"),
        ("orders", "orders.csv", 7, "malformed_line"),
        ("orders", "orders.csv", 8, "malformed_line"),
    ]
    reasons = [row[4].split(":")[0] for row in quarantined]
    assert reasons == [
        "too many columns", "too many columns", "invalid encoding", "unquoted value",
        "missing columns",
    ]  # fmt: skip
    assert query(
        db,
        "select outcome, row_count, raw_row_count from marts.fct_source_quality"
        " where source_table = 'orders' order by 1",
    ) == [("clean", 3, 7), ("malformed_line", 4, 7)]
    assert_reconciles(db, ["orders", "order_items"])


def test_the_csv_dialect_is_set_by_vars_not_guessed(tmp_path: Path) -> None:
    """A semicolon-separated Latin-1 file. With the defaults it is refused (one column
    named 'order_id;customer_id;...'), with a hint; with csv_delimiter and csv_encoding
    set it loads, accents intact. A file without a header reads with csv_header: false
    and csv_columns."""
    raw = write(
        tmp_path / "raw",
        {
            "orders.csv": b"order_id;customer_id;ordered_at;order_total\n"
            + "o1;c-\xe9l\xe8ne;2024-06-01 10:00:00;5.00\n".encode("latin-1")
        },
    )
    db = tmp_path / "dialect.duckdb"
    refused = run_dbt(
        ["build", *STAGING], db, dbt_vars={"raw_path": str(raw), **only()}, check=False
    )
    out = assert_nothing_ran(refused)
    assert "orders.csv line 1: the header lacks required column(s) order_id, customer_id" in out
    assert "The header looks ';'-separated: set csv_delimiter to ';'." in out

    dialect = {"csv_delimiter": ";", "csv_encoding": "latin-1"}
    run_dbt(["build", *STAGING], db, dbt_vars={"raw_path": str(raw), **dialect, **only()})
    assert query(db, "select order_id, customer_id from staging.stg_shop__orders") == [
        ("o1", "c-élène")
    ]

    headerless = write(tmp_path / "headerless", {"orders.csv": "c9,o9,2024-06-02 10:00:00\n"})
    run_dbt(
        ["build", *STAGING],
        tmp_path / "headerless.duckdb",
        dbt_vars={
            "raw_path": str(headerless), "csv_header": False,
            "csv_columns": {"orders": ["customer_id", "order_id", "ordered_at"]}, **only(),
        },
    )  # fmt: skip
    assert query(
        tmp_path / "headerless.duckdb", "select order_id, customer_id from staging.stg_shop__orders"
    ) == [("o9", "c9")]


UNREADABLE = {
    "an unclosed quote": (
        {
            "orders.csv": "order_id,customer_id,ordered_at,order_total\n"
            "o1,c1,2024-06-01 10:00:00,5\n"
            'o2,"c2,2024-06-01 11:00:00,6\n'
            "o3,c3,2024-06-01 12:00:00,7\n"
        },
        [
            "orders.csv line 3: a quoted value opened on this line is never closed, so everything"
            " after it would be read as one value.",
            'a " inside a quoted value is written ""',
        ],
    ),
    "a part file without a required column": (
        {
            "orders/2024-06-01.csv": "order_id,customer_id,ordered_at\no1,c1,2024-06-01\n",
            "orders/2024-06-02.csv": "order_id,ordered_at\no2,2024-06-02\n",
        },
        [
            "orders/2024-06-02.csv line 1: the header lacks required column(s) customer_id"
            " (found: order_id, ordered_at)."
        ],
    ),
    "a header naming a column twice": (
        {"orders.csv": "order_id,customer_id,ordered_at,Order_ID\no1,c1,2024-06-01,o1\n"},
        ["orders.csv line 1: the header names column(s) order_id more than once"],
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_a_file_unreadable_as_a_whole_is_refused(tmp_path: Path, case: str) -> None:
    files, messages = UNREADABLE[case]
    raw = write(tmp_path / "raw", files)
    result = run_dbt(
        ["build", *STAGING], tmp_path / "refused.duckdb",
        dbt_vars={"raw_path": str(raw), **only()}, check=False,
    )  # fmt: skip
    out = assert_nothing_ran(result)
    assert "nothing was built and the published marts were not changed" in out
    for message in messages:
        assert message in out, out[-3000:]
    assert "Fix or replace the file(s) and run the build again." in out


# ---------------------------------------------------------------- 2 and 3. lines, re-sends, ties


def lines_and_resends(root: Path) -> Path:
    """Two deliveries of orders and of lines.

    - o1 (first delivery): two identical lines of p1 (a product bought twice) and p2;
      re-sent in the second delivery with the header (now cancelled) and the same lines.
    - o2: lines keyed by line_id; line 1 comes twice (identical), line 2 in two versions.
    - o3: only in the first delivery; its lines add up to 12.00, not its 50.00 total.
    - o4, o5: two versions with the same timestamp in one file (the later row wins), and
      o5 again in the second delivery (the later file wins, although its row comes first).
    """
    return write(
        root,
        {
            "orders/2024-06-01.csv": "order_id,customer_id,ordered_at,order_total,status\n"
            "o1,c1,2024-06-01 10:00:00,25.00,completed\n"
            "o2,c2,2024-06-01 11:00:00,30.00,completed\n"
            "o3,c3,2024-06-01 12:00:00,50.00,completed\n"
            "o4,c4,2024-06-01 13:00:00,99.00,completed\n"
            "o5,c5,2024-06-01 14:00:00,10.00,completed\n"
            "o4,c4,2024-06-01 13:00:00,1.00,completed\n"
            "o5,c5,2024-06-01 14:00:00,11.00,completed\n",
            "orders/2024-06-02.csv": "order_id,customer_id,ordered_at,order_total,status\n"
            "o5,c5,2024-06-01 14:00:00,12.00,completed\n"
            "o1,c1,2024-06-01 10:00:00,25.00,cancelled\n",
            "order_items/2024-06-01.csv": "order_id,line_id,product_id,quantity,unit_price\n"
            "o1,,p1,1,10.00\no1,,p1,1,10.00\no1,,p2,1,5.00\n"
            "o2,1,p1,1,10.00\no2,1,p1,1,10.00\no2,2,p2,1,20.00\no2,2,p2,2,10.00\n"
            "o3,,p3,1,12.00\n",
            "order_items/2024-06-02.csv": "order_id,line_id,product_id,quantity,unit_price\n"
            "o1,,p1,1,10.00\no1,,p1,1,10.00\no1,,p2,1,5.00\n",
        },
    )


@pytest.fixture(scope="module")
def lines_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("lines")
    db = work / "lines.duckdb"
    result = run_dbt(
        ["build", *STAGING],
        db,
        dbt_vars={"raw_path": str(lines_and_resends(work / "raw")), **only("order_items")},
    )
    return db, text(result)


def test_order_lines_repeated_products_are_kept_and_resends_replace(lines_db) -> None:
    db, _ = lines_db
    assert outcomes(db, "order_items") == [
        ("o1|-|p1", "clean"), ("o1|-|p1", "clean"), ("o1|-|p1", "superseded_line"),
        ("o1|-|p1", "superseded_line"), ("o1|-|p2", "clean"), ("o1|-|p2", "superseded_line"),
        ("o2|1|p1", "clean"), ("o2|1|p1", "exact_duplicate"),
        ("o2|2|p2", "clean"), ("o2|2|p2", "key_duplicate"),
        ("o3|-|p3", "clean"),
    ]  # fmt: skip
    # The clean lines come from o1's latest delivery, and o2's line 2 is its later row.
    clean = query(
        db,
        "select order_id, product_id, quantity, cast(line_total as double)"
        " from staging.stg_shop__order_items order by 1, 2, 3",
    )
    assert clean == [
        ("o1", "p1", 1, 10.0), ("o1", "p1", 1, 10.0), ("o1", "p2", 1, 5.0),
        ("o2", "p1", 1, 10.0), ("o2", "p2", 2, 20.0), ("o3", "p3", 1, 12.0),
    ]  # fmt: skip
    assert_reconciles(db, ["orders", "order_items"])


def test_equal_timestamps_go_to_the_later_row_in_load_order(lines_db) -> None:
    db, _ = lines_db
    kept = query(
        db, "select order_id, cast(order_total as double), status from staging.stg_shop__orders"
    )
    assert sorted(kept) == [
        ("o1", 25.0, "cancelled"),  # the re-send in the later file
        ("o2", 30.0, "completed"),
        ("o3", 50.0, "completed"),
        ("o4", 1.0, "completed"),  # the later row of one file, whatever the amount
        ("o5", 12.0, "completed"),  # the later file, although it is that file's first row
    ]
    losers = query(
        db,
        "select record_key, source_file, source_row from staging.stg_shop__quarantined_rows"
        " where source_table = 'orders' order by 1, 2, 3",
    )
    assert losers == [
        ("o1", "orders/2024-06-01.csv", 1),
        ("o4", "orders/2024-06-01.csv", 4),
        ("o5", "orders/2024-06-01.csv", 5),
        ("o5", "orders/2024-06-01.csv", 7),
    ]


def test_lines_that_do_not_add_up_to_the_order_total_warn(lines_db) -> None:
    """o3's lines (12.00) against its total (50.00); o1 (cancelled, 25.00 = 10 + 10 + 5)
    and o2 (30.00 = 10 + 20) match."""
    _db, out = lines_db
    assert "WARN 1 assert_order_lines_match_order_totals" in out


# ---------------------------------------------------------------- 6. quality gates


def test_a_mostly_quarantined_source_stops_the_build(tmp_path: Path) -> None:
    """3 of 5 orders without a customer: above quarantine_error_share (0.5) the gate errors
    with the counts and top reasons, and nothing downstream of orders is built."""
    raw = write(
        tmp_path / "raw",
        {
            "orders.csv": "order_id,customer_id,ordered_at\n"
            "o1,,2024-06-01\no2,,2024-06-01\no3,,2024-06-01\no4,c4,2024-06-01\n"
            "o5,c5,not a date\n"
        },
    )
    db = tmp_path / "gate.duckdb"
    result = run_dbt(
        ["build", "--exclude", "test_type:unit"], db,
        dbt_vars={"raw_path": str(raw), "publish_path": str(tmp_path / "published"), **only()},
        check=False,
    )  # fmt: skip
    out = text(result)
    assert result.returncode != 0
    assert (
        "Quality gate: orders: 4 of 5 raw rows (80.0%) are quarantined; top reasons: null_key 3,"
        " unparseable_timestamp 1." in out
    )
    assert "above quarantine_error_share (0.5), so nothing that depends on orders was built" in out
    built = {
        name
        for (name,) in query(
            db, "select table_schema || '.' || table_name from information_schema.tables"
        )
    }
    assert "staging.base_shop__orders_checked" in built  # where the gate looks
    assert not {"staging.stg_shop__orders", "marts.dim_customers", "marts.publish_marts"} & built
    assert not (tmp_path / "published").exists()


def test_a_few_quarantined_rows_warn_with_the_reasons(tmp_path: Path) -> None:
    rows = [f"o{i},c{i},2024-06-01" for i in range(1, 40)] + ["o40,,2024-06-01"]
    raw = write(
        tmp_path / "raw", {"orders.csv": "order_id,customer_id,ordered_at\n" + "\n".join(rows)}
    )
    result = run_dbt(
        ["build", *STAGING], tmp_path / "warn.duckdb", dbt_vars={"raw_path": str(raw), **only()}
    )
    out = text(result)
    assert (
        "Quality gate: orders: 1 of 40 raw rows (2.5%) are quarantined; top reasons: null_key 1."
        in out
    )
    assert "above quarantine_warn_share (0.01)" in out
    assert "WARN 1 quarantine_share_base_shop__orders_checked_orders" in out


# ---------------------------------------------------------------- 7. skip mode, 8. summary


@pytest.fixture(scope="module")
def skipped(tmp_path_factory: pytest.TempPathFactory):
    """A whole build that cannot train (churn_min_labelled_rows above the data) with
    churn_on_insufficient_labels: skip, into a database outside RETENTION_HOME with its
    own publish_path. The build passing is the first assertion."""
    work = tmp_path_factory.mktemp("skipped")
    orders = generated_orders(work / "generated", customers=300, seed=17)
    raw = work / "raw"
    raw.mkdir()
    orders.to_csv(raw / "orders.csv", index=False)
    db = work / "skipped.duckdb"
    dbt_vars = {
        "raw_path": str(raw), "publish_path": str(work / "published"),
        "churn_on_insufficient_labels": "skip", "churn_min_labelled_rows": 10_000_000, **only(),
    }  # fmt: skip
    env = {"RETENTION_ARTIFACTS": str(work / "artifacts")}
    result = run_dbt(BUILD, db, dbt_vars=dbt_vars, env=env, timeout=1800)
    return work, db, text(result)


def test_skip_mode_builds_and_publishes_every_mart(skipped) -> None:
    work, db, log = skipped
    assert "Churn model skipped: " in log
    assert "no churn scores at this as_of_date: no model was trained" in log
    current = work / "published" / db.stem / CURRENT
    manifest = json.loads((current / MANIFEST).read_text())
    published = {t["table_name"]: t["rows"] for t in manifest["tables"]}
    listing = (REPO_ROOT / "models/marts/publish/publish_mart_tables.sql").read_text()
    for mart in ["dim_customers", "fct_retention_actions", "fct_segment_retention",
                 "fct_cohort_retention", "fct_customer_snapshots", "dim_segments",
                 "fct_source_quality", "fct_model_monitoring"]:  # fmt: skip
        assert mart in listing and published.get(mart, 0) > 0, mart
    for mart in ["fct_model_runs", "fct_model_evaluation", "fct_model_evaluation_curves",
                 "fct_churn_scores"]:  # fmt: skip
        assert published[mart] == 0, mart
    # Empty, but with their columns and types.
    columns = dict(
        query(db, "select column_name, column_type from (describe marts.fct_model_evaluation)")
    )
    assert columns["auc"] == "DOUBLE" and columns["is_chosen"] == "BOOLEAN"
    assert query(
        db, "select count(*), count(churn_probability), count(risk_tier) from marts.dim_customers"
    )[0][1:] == (0, 0)
    sources = query(
        db, "select distinct score_source, value_basis from marts.fct_retention_actions"
    )
    assert sources == [("btyd_p_no_purchase", "clv")]
    [(reason,)] = query(db, "select min(reason) from marts.fct_retention_actions")
    assert reason.startswith("no churn model this build (too few labelled rows;")
    build_report(db, work / "report.html", work / "published")
    html = (work / "report.html").read_text()
    assert "No churn model: there were too few labelled rows to train one" in html
    assert "P(churn) is the BG/NBD baseline" in html


def test_summary_prints_where_the_marts_are_published(skipped, tmp_path: Path) -> None:
    """RETENTION_DB is an absolute path outside RETENTION_HOME: the summary names the
    publish_path folder the build really wrote, not one next to the database."""
    work, db, _ = skipped
    env = {**os.environ, "RETENTION_HOME": str(REPO_ROOT), "RETENTION_DB": str(db)}
    result = subprocess.run(
        [str(RETENTION), "summary"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"BI tools: read the Parquet copies in {work}/published/{db.stem}/current/" in result.stdout
    )
    # A warehouse that never published: the build's default, under RETENTION_HOME.
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()
    result = subprocess.run(
        [str(RETENTION), "summary", "--database", str(bare)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert (
        f"BI tools: read the Parquet copies in {REPO_ROOT}/published/bare/current/" in result.stdout
    )
