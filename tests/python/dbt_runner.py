"""Tests import the dbt runner from here; it lives in the package so benchmarks share it."""

from retention.dbt_runner import REPO_ROOT, DbtRunError, dbt_env, query, run_dbt

__all__ = ["REPO_ROOT", "DbtRunError", "dbt_env", "query", "run_dbt"]
