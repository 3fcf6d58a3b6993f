"""Session-wide fixtures: one small end-to-end build shared by the tests that need a
complete warehouse (the report, its browser test, the build's progress log); the test
tiers: a test that builds with dbt is marked integration (dbt_runner.py checks); and the
CPU each test phase used, printed at the end."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbt_runner import TIER, run_dbt
from retention.datagen import GeneratorConfig, generate
from retention.publish import exclusive_lock


@dataclass(frozen=True)
class Build:
    database: Path
    published: Path  # the publish root (publish_path)
    artifacts: Path
    log: Path  # dbt's log file of the build


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the test's fixtures (session ones included) are set up: its tier, and where its
    CPU count starts."""
    os.environ[TIER] = "integration" if item.get_closest_marker("integration") else "unit"
    item.stash[_CPU_MARK] = _cpu_seconds()


# CPU seconds per test phase, the dbt subprocesses included: on CI's two cores the tests'
# CPU, not their wall time beside each other, is what bounds `make test`.
_CPU_MARK = pytest.StashKey[float]()
_CPU_TOP = 15


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Each phase's report carries the CPU it used (user_properties cross pytest-xdist)."""
    report = (yield).get_result()
    now = _cpu_seconds()
    report.user_properties.append(("cpu_seconds", now - item.stash.get(_CPU_MARK, now)))
    item.stash[_CPU_MARK] = now


def pytest_terminal_summary(terminalreporter) -> None:
    """The phases that used the most CPU, and the total, after pytest's own --durations."""
    phases = [
        (dict(report.user_properties).get("cpu_seconds", 0.0), report.when, report.nodeid)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport)
    ]
    if not phases:
        return
    terminalreporter.write_sep("=", f"most CPU ({_CPU_TOP} phases, dbt subprocesses included)")
    for seconds, when, nodeid in sorted(phases, reverse=True)[:_CPU_TOP]:
        terminalreporter.write_line(f"{seconds:8.1f}s cpu {when:<8} {nodeid}")
    total = sum(seconds for seconds, _, _ in phases)
    terminalreporter.write_line(f"{total:8.1f}s cpu in all {len(phases)} phases")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that build warehouses first, then those with slow tests, then the rest, each
    file's tests in their own order. pytest-xdist hands out whole files in this order
    (`--dist loadfile`): the long ones start early and the quick files fill the gaps at the
    end, instead of a long build running alone at the end while the other processes wait."""

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    rank: dict[str, int] = {}
    for item in items:
        tier = 0 if item.get_closest_marker("integration") else 2
        tier = 1 if tier and item.get_closest_marker("slow") else tier
        rank[file_of(item)] = min(rank.get(file_of(item), 2), tier)
    items.sort(key=lambda item: rank[file_of(item)])  # stable: files keep their order


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
    The build and its data tests passing is the first assertion (run_dbt raises).
    Built once per test run: pytest-xdist's workers share the folder above their own
    temporary folders, and the first worker to need the build makes it under a lock while
    the others wait; the tests only read it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    work = shared / "small_build"
    done = work / "built"
    with exclusive_lock(shared / "small_build.lock"):
        if not done.is_file():
            shutil.rmtree(work, ignore_errors=True)  # a build that failed earlier
            _build_small(work)  # raises if it fails: no marker then
            done.touch()
    return Build(
        database=work / "small.duckdb",
        published=work / "published",
        artifacts=work / "artifacts",
        log=work / "dbt" / "logs" / "dbt.log",
    )


def _build_small(work: Path) -> None:
    """Generate the raw folder under work and `dbt build` it."""
    work.mkdir(parents=True)
    raw = work / "raw"
    generate(
        GeneratorConfig(
            customers=700, seed=11, out=raw, format="parquet", start=dt.date(2023, 1, 1),
            end=dt.date(2024, 12, 31), events_scale=0.3, quiet=True,
        )
    )  # fmt: skip
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
