"""Every user-facing failure says what happened and what to do (asserted on the text).

Bad vars and missing sources: test_bad_config.py. Here: a build with too few
labels, a database file another process holds (for dbt and for the CLI), and the
CLI's other failures, which print one line and no traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from dbt_runner import REPO_ROOT, run_dbt

pytestmark = pytest.mark.integration  # dbt builds and CLI runs on a warehouse

ORDERS_ONLY = {
    "raw_path": str(REPO_ROOT / "tests" / "fixtures" / "orders_only"),
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}
RETENTION = Path(sys.executable).with_name("retention")


@contextmanager
def held_by_another_process(db_path: Path, read_only: bool) -> Iterator[int]:
    """Hold a connection to ``db_path`` in a separate process; yields its PID."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                connection = duckdb.connect({str(db_path)!r}, read_only={read_only})
                print("holding", flush=True)
                sys.stdin.read()  # until the test closes stdin
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RETENTION), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"retention {command}: error: ")
    return lines[0]


# ---------------------------------------------------------------- dbt


def test_too_few_labels_stops_the_build_with_the_numbers_and_the_fixes(tmp_path: Path) -> None:
    # 20 orders of 20 customers: far below 200 labelled rows and 20 of each class.
    result = run_dbt(
        ["build", "--select", "+ml_churn_training", "--exclude", "test_type:unit",
         "--indirect-selection", "cautious"],
        tmp_path / "few_labels.duckdb",
        dbt_vars=ORDERS_ONLY,
        env={"RETENTION_ARTIFACTS": str(tmp_path / "artifacts")},
        check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    match = re.search(
        r"Cannot train a churn model: [^:]+: (\d+) labelled rows \((\d+) churners, "
        r"(\d+) non-churners\); need at least 200 rows and 20 of each class\.",
        output,
    )
    assert match, output[-3000:]
    rows, churners, stayers = map(int, match.groups())
    assert rows == churners + stayers and (rows < 200 or min(churners, stayers) < 20)
    # Eight customers: no change of the spine's vars gives enough labels, and it says so,
    # with the data's extent (test_label_advice.py covers the cases where one does).
    assert re.search(
        r"No single or paired change of min_history_days, .*churn_horizon_days "
        r"gives enough labels: the data spans \d+ days and \d+ customers",
        output,
    )
    for fix in ["Load more history", "set churn_on_insufficient_labels: skip"]:
        assert fix in output
    assert "ERROR creating python table model ml.ml_churn_training" in output


def test_dbt_on_a_file_another_process_holds_says_which_and_what_to_do(tmp_path: Path) -> None:
    db_path = tmp_path / "held.duckdb"
    duckdb.connect(str(db_path)).close()
    # Even a read-only reader (a notebook, `retention query`) blocks a build.
    with held_by_another_process(db_path, read_only=True) as pid:
        result = run_dbt(
            ["run", "--select", "base_shop__orders"], db_path, dbt_vars=ORDERS_ONLY, check=False
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"Cannot build: {db_path} is open in another process (PID {pid}, " in output
    assert "Close that connection (a notebook, `retention query`, a SQL client or BI tool" in output
    # Where a build of this file publishes by default: the project's published/<stem>,
    # not next to the database file (RETENTION_HOME is the repository in run_dbt).
    assert f"BI tools should read {REPO_ROOT}/published/held/current/" in output
    # Once the holder is gone, the same build runs.
    run_dbt(["run", "--select", "base_shop__orders"], db_path, dbt_vars=ORDERS_ONLY)


# ---------------------------------------------------------------- CLI


def test_cli_query_on_a_file_a_build_holds(tmp_path: Path) -> None:
    db_path = tmp_path / "building.duckdb"
    duckdb.connect(str(db_path)).close()
    with held_by_another_process(db_path, read_only=False) as pid:
        result = cli("query", "select 1", "--database", str(db_path))
    line = assert_one_line_error(result, "query")
    assert f"{db_path} is locked by another process (PID {pid}, " in line
    assert "most likely a running `dbt build`" in line
    home = os.environ.get("RETENTION_HOME", os.getcwd())
    assert f"Wait for it to finish and retry, or read the Parquet copies of the marts in {home}/published/building/current/" in line  # fmt: skip


def test_cli_without_a_warehouse(tmp_path: Path) -> None:
    line = assert_one_line_error(
        cli("summary", "--database", str(tmp_path / "none.duckdb")), "summary"
    )
    assert f"No warehouse at {tmp_path}/none.duckdb. Build it first: `make demo`" in line


def test_cli_query_errors_name_the_problem_and_where_to_look(tmp_path: Path) -> None:
    db_path = tmp_path / "small.duckdb"
    with duckdb.connect(str(db_path)) as connection:
        connection.execute(
            "create schema marts; create table marts.dim_customers as select 1 as id"
        )
    line = assert_one_line_error(
        cli("query", "select * from marts.dim_customer", "--database", str(db_path)), "query"
    )
    assert "the query failed: Catalog Error: Table with name dim_customer does not exist!" in line
    assert "`retention summary` lists its relations" in line
    line = assert_one_line_error(
        cli("query", "drop table marts.dim_customers", "--database", str(db_path)), "query"
    )
    assert "read-only mode" in line and "the warehouse is opened read-only" in line
    ok = cli("query", "select count(*) as n from marts.dim_customers", "--database", str(db_path))
    assert ok.returncode == 0 and "1" in ok.stdout


def test_cli_load_cdnow_without_the_file(tmp_path: Path) -> None:
    result = cli("load-cdnow", "--source", str(tmp_path / "missing.txt"), "--out", str(tmp_path))
    line = assert_one_line_error(result, "load-cdnow")
    assert f"CDNOW file not found: {tmp_path}/missing.txt. Pass --source with the path" in line
