"""Tests import the dbt runner from here; it lives in the package so benchmarks share it.

The shim also keeps the test tiers honest: a test that builds with dbt must be marked
``integration`` (pyproject.toml), so `make unit` stays fast. conftest.py records the tier
of the test being set up; a build from an unmarked test fails with the fix.
"""

import os
from collections.abc import Sequence

from retention.dbt_runner import REPO_ROOT, DbtRunError, dbt_env, query
from retention.dbt_runner import run_dbt as _run_dbt

__all__ = ["NO_UNIT_TESTS", "REPO_ROOT", "STAGING", "DbtRunError", "dbt_env", "query", "run_dbt"]

# dbt's unit tests run in dbt-test's demo build and, under raw_path, in conftest's small_build;
# the tests' other builds leave them out instead of rerunning the same fixtures.
NO_UNIT_TESTS = ["--exclude", "test_type:unit"]
# The staging models and the quality mart: what the input tests build.
STAGING = ["--select", "staging", "marts.quality", *NO_UNIT_TESTS]

TIER = "RETENTION_TEST_TIER"
# dbt commands that build or read a warehouse; parse, compile and ls only read the project.
BUILDING = {"build", "run", "seed", "test", "snapshot", "run-operation", "show"}


def run_dbt(args: Sequence[str], *rest, **options):
    if os.environ.get(TIER) == "unit" and args and args[0] in BUILDING:
        raise RuntimeError(
            f"`dbt {args[0]}` in a test not marked integration: add "
            "`pytestmark = pytest.mark.integration` (or @pytest.mark.integration) so "
            "`make unit` leaves it out"
        )
    return _run_dbt(args, *rest, **options)
