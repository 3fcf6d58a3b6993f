"""Bad configuration stops the build early, says what to fix, and changes nothing.

One good build (staging + marts/quality on tests/fixtures/edge_input, with
as_of_date on the last valid day), then one build per bad configuration against
the same database. Each must fail, print the message asserted here, and leave
every relation as it was: same relations, same definitions of the raw views,
same row counts, same contents (a checksum of every row).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from dbt_runner import REPO_ROOT, STAGING, run_dbt

pytestmark = pytest.mark.integration  # dbt builds

EDGE = REPO_ROOT / "tests" / "fixtures" / "edge_input"
# as_of_date: the day after the last order; the fixture is mostly defects, so the quality
# gate is opened (test_input_robustness.py tests it).
GOOD = {"raw_path": str(EDGE), "as_of_date": "2024-03-06", "quarantine_error_share": 1}


def state(db_path: Path) -> dict[str, tuple]:
    """Every relation outside the system schemas: kind, definition (views), rows, checksum."""
    with duckdb.connect(str(db_path), read_only=True) as connection:
        relations = connection.execute(
            """
            select table_schema, table_name, table_type
            from information_schema.tables
            where table_schema not in ('information_schema', 'pg_catalog')
            order by 1, 2
            """
        ).fetchall()
        views = dict(
            connection.execute(
                "select schema_name || '.' || view_name, sql from duckdb_views() where not internal"
            ).fetchall()
        )
        result = {}
        for schema, name, kind in relations:
            rows = connection.execute(f'select * from "{schema}"."{name}"').fetchall()
            digest = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
            result[f"{schema}.{name}"] = (kind, views.get(f"{schema}.{name}"), len(rows), digest)
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple]]:
    db_path = tmp_path_factory.mktemp("bad_config") / "bad_config.duckdb"
    run_dbt(["build", *STAGING], db_path, dbt_vars=GOOD)
    before = state(db_path)
    assert before["staging.stg_shop__orders"][2] == 6, "the good build should hold data"
    return db_path, before


def only_events(tmp_path: Path) -> Path:
    folder = tmp_path / "no_orders"
    folder.mkdir()
    (folder / "events.csv").write_bytes((EDGE / "events.csv").read_bytes())
    return folder


CASES = {
    "negative horizon": (
        {"churn_horizon_days": -90},
        [
            "Invalid configuration, nothing was built:",
            "churn_horizon_days must be a whole number >= 1 (got -90)",
            "Fix the var(s) in dbt_project.yml or on the command line (--vars).",
        ],
    ),
    "other invalid numbers": (
        {
            "min_group_size": 0,
            "churn_min_class_rows": 2.5,
            "retention_budget": -100,
            "high_risk_threshold": 0.3,
            "feature_windows_days": [30, -7],
            "churn_calibration": "platt",
            "as_of_date": "2024-13-01",
            "control_share": 1.5,
            "uplift_learners": ["s_learner"],
        },
        [
            "min_group_size must be a whole number >= 1 (got 0)",
            "churn_min_class_rows must be a whole number >= 1 (got 2.5)",
            "retention_budget must be a number >= 0 (got -100)",
            "0 < medium_risk_threshold < high_risk_threshold < 1 (got medium 0.4, high 0.3)",
            "feature_windows_days must be a non-empty list of whole numbers >= 1 (got [30, -7])",
            "churn_calibration must be one of 'auto', 'none', 'prior_shift', 'sigmoid', 'isotonic',"
            " 'btyd_blend' (got 'platt')",
            "as_of_date must be a date like 2024-06-30 (got '2024-13-01')",
            "control_share must be a share in [0, 1) (got 1.5)",
            "uplift_learners must be a non-empty list from t_learner, x_learner (got ['s_learner'])",
        ],
    ),
    "as_of_date after the data": (
        {"as_of_date": "2030-01-01"},
        [
            "as_of_date 2030-01-01 is outside the data, which runs from 2024-03-01 to 2024-03-05"
            " (orders and events). Use a date from 2024-03-02 to 2024-03-06, or leave as_of_date"
            " unset to score as of 2024-03-06.",
        ],
    ),
    "as_of_date on the first day": (
        {"as_of_date": "2024-03-01"},
        ["as_of_date 2024-03-01 is outside the data, which runs from 2024-03-01 to 2024-03-05"],
    ),
    "orders file absent": (
        {"raw_path": only_events},
        [
            "No 'orders' data in raw_path ",
            "(looked for orders.parquet, orders/*.parquet, orders.csv, orders/*.csv): it is required",
            "Nothing was built.",
        ],
    ),
    "optional table absent": (
        {"raw_path": str(REPO_ROOT / "tests" / "fixtures" / "orders_only")},
        [
            "No 'events' data in raw_path",
            "add it, or switch it off with --vars '{enable_events: false}'",
        ],
    ),
    "raw_path does not exist": (
        {"raw_path": "tests/fixtures/no_such_folder"},
        [
            f"raw_path {REPO_ROOT}/tests/fixtures/no_such_folder does not exist or is empty.",
            "a relative path is taken from the project root",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_fails_with_a_clear_message_and_changes_nothing(built, tmp_path, case):
    db_path, before = built
    overrides, messages = CASES[case]
    dbt_vars = {**GOOD, **overrides}
    if callable(dbt_vars["raw_path"]):
        dbt_vars["raw_path"] = str(dbt_vars["raw_path"](tmp_path))
    result = run_dbt(["build", *STAGING], db_path, dbt_vars=dbt_vars, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    for message in messages:
        assert message in output, output[-2000:]
    assert "on-run-start" in output  # it failed in the hooks, before any node ran
    assert " START " not in output.replace("START hook", "")
    assert state(db_path) == before
