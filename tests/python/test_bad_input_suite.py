"""The bad-input suite: every defect class of the input contract, end to end.

`tests/fixtures/bad_input` has one row per row-level defect (null keys, bad and
future timestamps, non-numeric and negative amounts, unknown statuses and event
types, orphans, duplicates; test_staging_quality.py). `tests/fixtures/edge_input`
adds the file-level ones: empty files (0 bytes and header only), a table split
into part files some of which are empty, missing optional columns (events without
ids), a mixed-case header behind a byte order mark, more time-zone spellings, and
a duplicate that differs only in how its instant is written. Zero-row sources
(Parquet and a 0-byte required table) are built here from scratch.

The build must succeed, every raw row must land in staging or in quarantine
(counted independently from the files), and every row's outcome must match the
hand-written `expected_outcomes.csv`. Only staging and marts/quality are built.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_runner import REPO_ROOT, STAGING, query, run_dbt
from test_contacts_staging import ROWS as CONTACT_ROWS

FIXTURES = REPO_ROOT / "tests" / "fixtures"
EDGE = FIXTURES / "edge_input"
TABLES = ["orders", "customers", "order_items", "products", "events"]
OPEN_GATE = {"quarantine_error_share": 1}
# The record key of stg_shop__quarantined_rows, computed on the checked models.
KEYS = {
    "orders": "order_id",
    "customers": "customer_id",
    "order_items": "concat(coalesce(order_id, '<null>'), '|', coalesce(product_id, '<null>'))",
    "products": "product_id",
    "events": "coalesce(event_id, customer_id)",
}


def file_rows(folder: Path, table: str) -> int:
    """Data rows of a table's CSV file(s), counted with Python's csv module, not DuckDB."""
    files = [folder / f"{table}.csv"] if (folder / f"{table}.csv").exists() else []
    files += sorted((folder / table).glob("*.csv")) if (folder / table).is_dir() else []
    assert files, f"no CSV for {table} in {folder}"
    total = 0
    for path in files:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            total += sum(1 for _ in csv.DictReader(handle))
    return total


@pytest.fixture(scope="module")
def edge_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build itself is the first assertion: run_dbt raises when any model or test fails."""
    db_path = tmp_path_factory.mktemp("edge_input") / "edge_input.duckdb"
    # Mostly defects: the quality gate is opened (test_input_robustness.py tests it).
    run_dbt(["build", *STAGING], db_path, dbt_vars={"raw_path": str(EDGE), **OPEN_GATE})
    return db_path


def test_the_fixture_has_the_file_level_defects_it_claims() -> None:
    assert (EDGE / "customers.csv").stat().st_size == 0
    assert (EDGE / "order_items.csv").read_text().count("\n") == 1  # header only
    parts = sorted((EDGE / "products").glob("*.csv"))
    assert [p.stat().st_size == 0 for p in parts] == [False, True, False]
    assert (EDGE / "orders.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "event_id" not in (EDGE / "events.csv").read_text().splitlines()[0]


@pytest.mark.integration
def test_every_raw_row_has_its_hand_written_outcome(edge_db: Path) -> None:
    with (EDGE / "expected_outcomes.csv").open(newline="") as handle:
        expected = Counter(
            (row["source_table"], row["record_key"], row["outcome"])
            for row in csv.DictReader(handle)
        )
    actual: Counter = Counter()
    for table, key in KEYS.items():
        for record_key, reason in query(
            edge_db,
            f"select {key}, quarantine_reason from staging.base_shop__{table}_checked",
        ):
            actual[(table, record_key or "", reason or "clean")] += 1
    assert actual - expected == Counter(), "outcomes not in expected_outcomes.csv"
    assert expected - actual == Counter(), "expected outcomes the build did not produce"


@pytest.mark.integration
def test_raw_equals_clean_plus_quarantined_per_table(edge_db: Path) -> None:
    counts = {}
    for table in TABLES:
        [(raw,)] = query(edge_db, f"select count(*) from staging.base_shop__{table}")
        [(clean,)] = query(edge_db, f"select count(*) from staging.stg_shop__{table}")
        [(quarantined,)] = query(
            edge_db,
            "select count(*) from staging.stg_shop__quarantined_rows where source_table = ?",
            [table],
        )
        assert raw == file_rows(EDGE, table), table
        assert raw == clean + quarantined, table
        counts[table] = (raw, clean, quarantined)
    assert counts == {
        "orders": (15, 6, 9),
        "customers": (0, 0, 0),
        "order_items": (0, 0, 0),
        "products": (3, 2, 1),
        "events": (10, 3, 7),
    }


@pytest.mark.integration
def test_each_quarantined_row_has_its_raw_rows_hash(edge_db: Path) -> None:
    """raw_row_hash in the quarantine finds the raw row: it is the base view's md5 of the
    row at the same load position. The quarantine takes every table's hash back out of
    raw_row_id (retention.raw_row_hash_of; events staging stores no other), exact copies
    (`-2`) included."""
    ids = []
    for table in TABLES:
        rows = query(
            edge_db,
            "select quarantined.raw_row_id, quarantined.raw_row_hash, raw.raw_row_hash"
            " from staging.stg_shop__quarantined_rows as quarantined"
            f" left join staging.base_shop__{table} as raw"
            " on quarantined.source_file = raw.source_file"
            " and quarantined.source_row is not distinct from raw.source_row"
            " and quarantined.source_line is not distinct from raw.source_line"
            " where quarantined.source_table = ?",
            [table],
        )
        for raw_row_id, hashed, expected in rows:
            assert (hashed, raw_row_id.rsplit("-", 1)[0]) == (expected, expected), table
        ids += [(table, raw_row_id) for raw_row_id, _, _ in rows]
    assert any(t == "events" and i.endswith("-2") for t, i in ids), "no copied event"
    assert any(t == "events" and i.endswith("-1") for t, i in ids)


@pytest.mark.integration
def test_empty_sources_are_reported_not_dropped(edge_db: Path) -> None:
    rows = query(
        edge_db,
        "select source_table, row_count, raw_row_count from marts.fct_source_quality"
        " where outcome = 'clean' order by source_table",
    )
    assert rows == [
        ("customers", 0, 0),
        ("events", 3, 10),
        ("order_items", 0, 0),
        ("orders", 6, 15),
        ("products", 2, 3),
    ]


@pytest.mark.integration
def test_clean_orders_are_trimmed_typed_and_in_utc(edge_db: Path) -> None:
    rows = query(
        edge_db,
        "select order_id, customer_id, strftime(ordered_at, '%Y-%m-%d %H:%M:%S'),"
        " cast(order_total as varchar), status from staging.stg_shop__orders order by order_id",
    )
    assert rows == [
        ("o101", "c101", "2024-03-01 06:30:00", "10.00", "completed"),  # +05:30
        ("o102", "c102", "2024-03-02 07:30:00", "20.00", "completed"),  # -08:00, next day in UTC
        ("o103", "c103", "2024-03-01 00:00:00", "5.50", "completed"),  # a bare date
        ("o104", "c101", "2024-03-02 10:00:00", "7.00", "completed"),  # .250Z
        ("o105", "c104", "2024-03-03 10:00:00", "12.00", "completed"),  # padded with spaces
        ("o114", "c107", "2024-03-05 10:00:00", "10.00", "completed"),  # one of two spellings
    ]


@pytest.mark.integration
def test_events_without_ids_keep_one_row_per_event(edge_db: Path) -> None:
    rows = query(
        edge_db,
        "select customer_id, strftime(event_at, '%H:%M:%S'), event_type"
        " from staging.stg_shop__events order by 1, 2",
    )
    assert rows == [
        ("c101", "11:00:00", "page_view"),
        ("c101", "11:00:05", "page_view"),
        ("c102", "10:00:00", "search"),
    ]
    [(ids,)] = query(edge_db, "select count(distinct event_id) from staging.stg_shop__events")
    assert ids == 3  # staging gives id-less events a surrogate id


@pytest.mark.integration
def test_zero_row_sources_build(tmp_path: Path) -> None:
    """A required table with no rows (Parquet with a schema and no rows) and an
    optional one that is a 0-byte file: the build succeeds and reports both."""
    raw = tmp_path / "raw"
    raw.mkdir()
    with duckdb.connect() as connection:
        connection.execute(
            "copy (select 'o1' as order_id, 'c1' as customer_id,"
            " timestamp '2024-01-01 10:00:00' as ordered_at, 10.5 as order_total limit 0)"
            f" to '{raw / 'orders.parquet'}' (format parquet)"
        )
    (raw / "events.csv").write_bytes(b"")
    db_path = tmp_path / "zero_rows.duckdb"
    run_dbt(
        ["build", *STAGING],
        db_path,
        dbt_vars={
            "raw_path": str(raw),
            "enable_customers": False,
            "enable_order_items": False,
            "enable_products": False,
        },
    )
    assert query(
        db_path,
        "select source_table, outcome, row_count, raw_row_count from marts.fct_source_quality"
        " order by source_table",
    ) == [("events", "clean", 0, 0), ("orders", "clean", 0, 0)]
    assert query(db_path, "select count(*) from staging.stg_shop__quarantined_rows") == [(0,)]


def test_every_reason_code_is_exercised_by_a_hand_written_row() -> None:
    """Each reason the quality mart accepts appears in a fixture's expectation,
    so a reason whose check stopped firing fails a test."""
    spec = yaml.safe_load((REPO_ROOT / "models/marts/quality/_quality__models.yml").read_text())
    [outcome] = [c for c in spec["models"][0]["columns"] if c["name"] == "outcome"]
    [accepted] = [t["accepted_values"] for t in outcome["data_tests"] if "accepted_values" in t]
    reasons = set(accepted["arguments"]["values"]) - {"clean"}
    exercised = set()
    with (FIXTURES / "bad_input" / "expected_quarantine.csv").open(newline="") as handle:
        exercised |= {row["quarantine_reason"] for row in csv.DictReader(handle)}
    with (EDGE / "expected_outcomes.csv").open(newline="") as handle:
        exercised |= {row["outcome"] for row in csv.DictReader(handle)} - {"clean"}
    # the optional contacts source's rows (invalid_assignment is its own reason)
    exercised |= {outcome for _, outcome in CONTACT_ROWS} - {"clean"}
    assert reasons - exercised == set()
    assert exercised - reasons == set()
