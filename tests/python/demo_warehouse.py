"""The demo warehouse the docs tests read: RETENTION_DEMO_DB when set (`make test` points it
at the demo build its dbt-test step has just made), else a fresh demo build in a temporary
folder (a few minutes). A developer's retention.duckdb is not used: it may be stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dbt_runner import run_dbt

_built: list[Path] = []  # one build per test session, shared by the modules that need it


def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    explicit = os.environ.get("RETENTION_DEMO_DB")
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"RETENTION_DEMO_DB={explicit} does not exist")
        return Path(explicit)
    if _built:
        return _built[0]
    work = tmp_path_factory.mktemp("demo")
    db_path = work / "demo.duckdb"
    run_dbt(
        ["build", "--exclude", "test_type:unit"],
        db_path,
        dbt_vars={"publish_path": str(work / "published")},
        env={"RETENTION_ARTIFACTS": str(work / "artifacts")},
        timeout=1800,
    )
    _built.append(db_path)
    return db_path
