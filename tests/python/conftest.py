"""Session-wide fixtures: one small end-to-end build shared by the tests that need a
complete warehouse (the report, its browser test, the build's progress log); and the
test tiers: a test that builds with dbt is marked integration (dbt_runner.py checks)."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import time
from contextlib import contextmanager
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


@contextmanager
def exclusive(lock_file: Path):
    """Hold an exclusive lock on lock_file (created if absent) for the block."""
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def small_build(tmp_path_factory) -> Build:
    """`dbt build` of the whole project, on 700 generated customers (two years, every
    source table), into files of its own: database, publish, registry and logs.
    The build and its data tests passing is the first assertion (run_dbt raises).
    Built once per test run: pytest-xdist's workers share the folder above their own
    temporary folders, and the first worker to need the build makes it under a lock while
    the others wait; the tests only read it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    work = shared / "small_build"
    done = work / "build_seconds.txt"
    with exclusive(shared / "small_build.lock"):
        if not done.is_file():
            shutil.rmtree(work, ignore_errors=True)  # a build that failed earlier
            done.parent.mkdir(parents=True)
            done.write_text(str(_build_small(work)))  # raises if it fails: no file then
    return Build(
        database=work / "small.duckdb",
        published=work / "published",
        artifacts=work / "artifacts",
        log=work / "dbt" / "logs" / "dbt.log",
        seconds=float(done.read_text()),
    )


def _build_small(work: Path) -> float:
    """The seconds `dbt build` took on the generated raw folder."""
    raw = work / "raw"
    generate(
        GeneratorConfig(
            customers=700, seed=11, out=raw, format="parquet", start=dt.date(2023, 1, 1),
            end=dt.date(2024, 12, 31), events_scale=0.3, quiet=True,
        )
    )  # fmt: skip
    started = time.perf_counter()
    run_dbt(
        ["build"],
        work / "small.duckdb",
        work_dir=work / "dbt",
        dbt_vars={
            "raw_path": str(raw),
            "publish_path": str(work / "published"),
        },
        env={"RETENTION_ARTIFACTS": str(work / "artifacts")},
        timeout=1200,
    )
    return time.perf_counter() - started
