"""The SQL of README's "Walkthrough: questions an analyst asks" runs as written.

Every ```sql block of that section is run, unchanged, on the demo warehouse opened
read-only; each must return rows with the columns listed here (written by hand
from the questions, in the section's order).
"""

from __future__ import annotations

import re

import duckdb
import pytest

from dbt_runner import REPO_ROOT
from demo_warehouse import demo_warehouse

SECTION = "## Walkthrough: questions an analyst asks"
EXPECTED_COLUMNS = [
    # top at-risk customers in a segment
    ["customer_id", "churn_probability", "clv", "revenue_at_risk", "days_since_last_order",
     "churn_reason_1"],
    # retention by cohort
    ["cohort_start_date", "cohort_customers", "month_1_retention", "month_3_retention",
     "month_6_retention"],
    # revenue at risk by acquisition channel
    ["acquisition_channel", "scored_customers", "expected_churners", "revenue_at_risk",
     "share_of_clv_at_risk"],
    # expected churn by risk tier
    ["risk_tier", "customers", "expected_churners", "revenue_at_risk"],
    # segments getting worse
    ["segment_name", "customers", "last_observed_churn_rate", "predicted_churn_rate",
     "revenue_at_risk"],
]  # fmt: skip


def walkthrough_queries() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    assert SECTION in readme
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture(scope="module")
def connection(tmp_path_factory):
    with duckdb.connect(str(demo_warehouse(tmp_path_factory)), read_only=True) as connection:
        yield connection


def test_the_section_has_the_queries_this_test_knows() -> None:
    assert len(walkthrough_queries()) == len(EXPECTED_COLUMNS)


@pytest.mark.integration
@pytest.mark.parametrize("index", range(len(EXPECTED_COLUMNS)))
def test_walkthrough_query_runs_as_written(connection, index: int) -> None:
    sql = walkthrough_queries()[index]
    result = connection.execute(sql)
    columns = [column[0] for column in result.description]
    rows = result.fetchall()
    assert columns == EXPECTED_COLUMNS[index]
    assert len(rows) > 0, f"query {index + 1} returned no rows:\n{sql}"
    # Every column carries information somewhere: a column that is null in every row
    # would be a wrong join or a filter that leaves nothing to compute.
    for position, column in enumerate(columns):
        assert any(row[position] is not None for row in rows), (column, sql)
