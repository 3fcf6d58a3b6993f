"""Session-wide fixtures: one small end-to-end build shared by the tests that need a
complete warehouse (the report, its browser test, the build's progress log); and the
test tiers: a test that builds with dbt is marked integration (dbt_runner.py checks)."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbt_runner import TIER, run_dbt
from retention.datagen import GeneratorConfig, generate


@dataclass(frozen=True)
class Build:
    database: Path
    published: Path  # the publish root (publish_path)
    artifacts: Path
    log: Path  # dbt's log file of the build
    seconds: float


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the test's fixtures (session ones included) are set up: its tier."""
    os.environ[TIER] = "integration" if item.get_closest_marker("integration") else "unit"


@pytest.fixture(scope="module")
def one_thread():
    """BLAS/OpenMP limited to one thread for a module's tests (churn_fixtures.single_threaded);
    use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    from churn_fixtures import single_threaded

    with single_threaded():
        yield


@pytest.fixture(scope="session")
def small_build(tmp_path_factory) -> Build:
    """`dbt build` of the whole project, on 700 generated customers (two years, every
    source table), into files of its own: database, publish, registry and logs.
    The build and its data tests passing is the first assertion (run_dbt raises)."""
    work = tmp_path_factory.mktemp("small_build")
    raw = work / "raw"
    generate(
        GeneratorConfig(
            customers=700, seed=11, out=raw, format="parquet", start=dt.date(2023, 1, 1),
            end=dt.date(2024, 12, 31), events_scale=0.3, quiet=True,
        )
    )  # fmt: skip
    database = work / "small.duckdb"
    started = time.perf_counter()
    run_dbt(
        ["build"],
        database,
        work_dir=work / "dbt",
        dbt_vars={
            "raw_path": str(raw),
            "publish_path": str(work / "published"),
        },
        env={"RETENTION_ARTIFACTS": str(work / "artifacts")},
        timeout=1200,
    )
    return Build(
        database=database,
        published=work / "published",
        artifacts=work / "artifacts",
        log=work / "dbt" / "logs" / "dbt.log",
        seconds=time.perf_counter() - started,
    )
