"""The feature table built one cutoff per statement (the `batched_table` materialization,
docs/scale.md) holds exactly the rows the model's SQL gives in one statement.

Reuses the session's small build: its compiled SQL of int_snapshots_featurized is run
whole, as `table` would run it, and compared with the table the batches built, row for
row (EXCEPT ALL both ways, so duplicates count too)."""

from __future__ import annotations

import re

import pytest

from dbt_runner import query

pytestmark = pytest.mark.integration  # reuses the session's dbt build

MODEL = "int_snapshots_featurized"
TABLE = f"intermediate.{MODEL}"


@pytest.fixture(scope="module")
def one_statement_sql(small_build) -> str:
    # the model's own compiled SQL (its unit tests' compiled copies sit in folders of theirs)
    target = small_build.log.parent.parent / "target"
    return (target / "compiled/retention/models/intermediate" / f"{MODEL}.sql").read_text()


def test_batches_hold_exactly_the_rows_of_one_statement(small_build, one_statement_sql):
    whole = f"(select * from ({one_statement_sql}) as whole_model)"
    missing = f"select count(*) from (select * from {whole} except all select * from {TABLE})"
    extra = f"select count(*) from (select * from {TABLE} except all select * from {whole})"
    [(rows,)] = query(small_build.database, f"select count(*) from {TABLE}")
    assert rows > 0
    assert query(small_build.database, missing) == [(0,)], "rows the batches lost"
    assert query(small_build.database, extra) == [(0,)], "rows the batches added or repeated"


def test_one_statement_per_cutoff_logged(small_build):
    log = re.sub(r"\x1b\[[0-9;]*m", "", small_build.log.read_text())
    batches = re.findall(rf"{MODEL}: batch (\d+) of (\d+) \(cutoff_date (\S+)\)", log)
    latest = {int(number): (int(total), day) for number, total, day in batches}  # last run's
    cutoffs = {
        str(day)
        for (day,) in query(
            small_build.database,
            "select distinct cutoff_date from intermediate.int_cutoffs_generated",
        )
    }
    assert len(cutoffs) > 1
    assert sorted(latest) == list(range(1, len(cutoffs) + 1))
    assert {total for total, _ in latest.values()} == {len(cutoffs)}
    assert {day for _, day in latest.values()} == cutoffs, (
        "a cutoff with no batch, or a batch for none"
    )
