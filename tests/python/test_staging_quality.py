"""Staging quality end to end: fixture folders -> dbt build -> quarantine and reconciliation.

Builds only the staging layer and marts/quality (unit and data tests included)
on the hand-written folders in tests/fixtures, each into its own DuckDB file.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from pathlib import Path

import pytest

from dbt_runner import REPO_ROOT, STAGING, query, run_dbt

pytestmark = pytest.mark.integration  # dbt builds

FIXTURES = REPO_ROOT / "tests" / "fixtures"
OPTIONAL_TABLES = ["customers", "order_items", "products", "events"]


def only(*enabled: str) -> dict[str, bool]:
    """Vars switching off every optional table not named."""
    return {f"enable_{table}": table in enabled for table in OPTIONAL_TABLES}


def build(tmp_path_factory: pytest.TempPathFactory, name: str, dbt_vars: dict) -> Path:
    db_path = tmp_path_factory.mktemp(name) / f"{name}.duckdb"
    run_dbt(["build", *STAGING], db_path, dbt_vars=dbt_vars)
    return db_path


def source_quality(db_path: Path) -> dict[tuple[str, str], tuple[int, int]]:
    rows = query(
        db_path,
        "select source_table, outcome, row_count, raw_row_count from marts.fct_source_quality",
    )
    return {(source, outcome): (count, raw) for source, outcome, count, raw in rows}


# ---------------------------------------------------------------- bad_input


@pytest.fixture(scope="module")
def bad_input_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build itself is the first assertion: run_dbt raises when any model or test fails."""
    # The fixture is mostly defects (over half of its orders and events): the quality gate
    # would stop the build (test_input_robustness.py tests it), so it is opened here.
    return build(
        tmp_path_factory,
        "bad_input",
        {"raw_path": str(FIXTURES / "bad_input"), "quarantine_error_share": 1},
    )


def test_raw_rows_equal_clean_plus_quarantined(bad_input_db: Path) -> None:
    for table in ["orders", *OPTIONAL_TABLES]:
        [(raw,)] = query(bad_input_db, f"select count(*) from staging.base_shop__{table}")
        [(clean,)] = query(bad_input_db, f"select count(*) from staging.stg_shop__{table}")
        [(quarantined,)] = query(
            bad_input_db,
            "select count(*) from staging.stg_shop__quarantined_rows where source_table = ?",
            [table],
        )
        folder = FIXTURES / "bad_input"
        paths = [folder / f"{table}.csv"] if (folder / f"{table}.csv").exists() else []
        paths += sorted((folder / table).glob("*.csv"))  # a table split into deliveries
        file_rows = 0
        for path in paths:
            with path.open(newline="") as handle:
                file_rows += sum(1 for _ in csv.DictReader(handle))
        assert raw == file_rows, table
        assert raw == clean + quarantined, table
        assert clean > 0 and quarantined > 0, table


def test_source_quality_mart_reconciles(bad_input_db: Path) -> None:
    quality = source_quality(bad_input_db)
    assert {source for source, _ in quality} == {"orders", *OPTIONAL_TABLES}
    for source in {source for source, _ in quality}:
        counts = [v for (s, _), v in quality.items() if s == source]
        assert sum(count for count, _ in counts) == counts[0][1], source
    assert quality[("orders", "clean")] == (6, 18)
    assert quality[("orders", "null_key")] == (3, 18)


def test_quarantine_matches_hand_written_expectation(bad_input_db: Path) -> None:
    with (FIXTURES / "bad_input" / "expected_quarantine.csv").open(newline="") as handle:
        expected = Counter(
            (row["source_table"], row["record_key"], row["quarantine_reason"])
            for row in csv.DictReader(handle)
        )
    actual = Counter(
        (source, key or "", reason)
        for source, key, reason in query(
            bad_input_db,
            "select source_table, record_key, quarantine_reason"
            " from staging.stg_shop__quarantined_rows",
        )
    )
    assert actual - expected == Counter(), "quarantined but not expected"
    assert expected - actual == Counter(), "expected but not quarantined"


def test_clean_rows_are_typed_and_in_utc(bad_input_db: Path) -> None:
    rows = dict(
        query(
            bad_input_db,
            "select order_id, strftime(ordered_at, '%Y-%m-%d %H:%M:%S') || ' ' || status"
            " from staging.stg_shop__orders",
        )
    )
    assert rows == {
        "o001": "2024-01-05 10:00:00 completed",
        "o002": "2024-03-01 10:00:00 completed",  # +02:00, SHIPPED
        "o003": "2024-03-02 08:30:00 cancelled",  # Z, Canceled
        "o004": "2024-03-05 19:00:00 completed",  # -05:00, no status
        "o013": "2024-02-13 09:00:00 completed",  # first of two identical copies
        "o014": "2024-02-14 09:00:00 completed",  # latest version
    }


def test_no_raw_email_reaches_staging_or_marts(bad_input_db: Path) -> None:
    # Only the raw layer holds addresses; every staging and marts relation
    # (tables and views) is scanned for one.
    [(raw_emails,)] = query(
        bad_input_db, "select count(*) from raw.customers where email like '%@%'"
    )
    assert raw_emails > 0, "the fixture should contain emails, or this test proves nothing"
    columns = query(
        bad_input_db,
        """
        select table_schema, table_name, column_name
        from information_schema.columns
        where table_schema in ('staging', 'marts')
            and data_type = 'VARCHAR'
        """,
    )
    assert {table for _, table, _ in columns} >= {
        "base_shop__customers",
        "base_shop__customers_checked",
        "stg_shop__customers",
        "stg_shop__quarantined_rows",
        "fct_source_quality",
    }
    leaks = query(
        bad_input_db,
        " union all ".join(
            f"select distinct '{schema}.{table}.{column}' from {schema}.{table}"
            f" where {column} like '%@%'"
            for schema, table, column in columns
        ),
    )
    assert leaks == []
    [(hashed,)] = query(bad_input_db, "select count(email_hash) from staging.stg_shop__customers")
    assert hashed == 4  # c003 has no email


def test_email_hash_is_salted_md5_of_normalised_address(bad_input_db: Path) -> None:
    emails = query(bad_input_db, "select email from raw.customers where trim(email) <> ''")
    hashes = query(
        bad_input_db,
        "select email_hash from staging.base_shop__customers where email_hash is not null",
    )
    salt = os.environ.get("RETENTION_PII_SALT", "demo-only-salt-do-not-use-in-production")
    expected = sorted(
        hashlib.md5((salt + e.strip().lower()).encode()).hexdigest() for (e,) in emails
    )
    assert len(expected) > 0
    assert sorted(h for (h,) in hashes) == expected


# ---------------------------------------------------------------- other folders


def test_orders_only_folder_builds(tmp_path_factory: pytest.TempPathFactory) -> None:
    db_path = build(
        tmp_path_factory,
        "orders_only",
        {"raw_path": str(FIXTURES / "orders_only"), **only()},
    )
    assert source_quality(db_path) == {("orders", "clean"): (20, 20)}
    staging = {
        name
        for (name,) in query(
            db_path,
            "select table_name from information_schema.tables where table_schema = 'staging'",
        )
    }
    assert "stg_shop__orders" in staging
    assert not any("customers" in name or "events" in name for name in staging)
    [(completed,)] = query(
        db_path, "select count(*) from staging.stg_shop__orders where is_completed"
    )
    assert completed == 20  # no status column: every order counts as completed


def test_empty_events_file_builds(tmp_path_factory: pytest.TempPathFactory) -> None:
    db_path = build(
        tmp_path_factory,
        "empty_events",
        {"raw_path": str(FIXTURES / "empty_events"), **only("events")},
    )
    assert source_quality(db_path) == {("orders", "clean"): (3, 3), ("events", "clean"): (0, 0)}
    assert query(db_path, "select count(*) from staging.stg_shop__events") == [(0,)]


def test_missing_required_column_fails_clearly(tmp_path: Path) -> None:
    """A required column missing from a file's header stops the build in the hook,
    before any view is created, naming the file, the header line and what was found.
    (order_total is optional: a file without it builds; test_input_robustness.py.)"""
    folder = tmp_path / "no_timestamp"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "order_id,customer_id,placed,order_total\no1,c1,2024-01-01,10.00\n"
    )
    result = run_dbt(
        ["build", "--select", "base_shop__orders"],
        tmp_path / "no_timestamp.duckdb",
        dbt_vars={"raw_path": str(folder), **only()},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "orders.csv line 1: the header lacks required column(s) ordered_at" in output
    assert "(found: order_id, customer_id, placed, order_total)" in output
    assert "Rename the columns in your export" in output
    assert " START sql" not in output  # no model ran
