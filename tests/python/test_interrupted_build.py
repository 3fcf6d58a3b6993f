"""A build killed midway leaves the published marts intact, and the next build recovers.

1. A full build on a small generated dataset publishes the marts (published/<db>/current).
2. A second build is started as a real process and SIGKILLed (no cleanup of any kind)
   inside the model layer (when the third intermediate model starts, after the first
   ones have replaced their tables).
3. The published marts are exactly what they were: `current` points to the same build
   folder, every file has the same checksum, and the Parquet row counts match the
   manifest. The database file opens (DuckDB replays or discards the WAL) and its
   marts still hold the published row counts.
4. The next build succeeds (no stale lock) and publishes a new complete folder.

A full build is needed because publishing waits for every mart; the model is shrunk
(one candidate, no BTYD baselines) to keep it to a minute or two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from retention.datagen import GeneratorConfig, generate
from retention.dbt_runner import DBT, REPO_ROOT, dbt_env, run_dbt
from retention.publish import CURRENT, MANIFEST

pytestmark = pytest.mark.integration  # dbt builds

KILL_WHEN = "START sql table model intermediate."
KILL_AT = 3  # the third intermediate model: the first ones have replaced their tables already


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("interrupted")
    generate(
        GeneratorConfig(
            customers=400, seed=5, out=work / "raw", format="csv", start=dt.date(2023, 1, 1),
            end=dt.date(2023, 12, 31), events_scale=0.1, quiet=True,
        )
    )  # fmt: skip
    dbt_vars = {
        "raw_path": str(work / "raw"),
        "publish_path": str(work / "published"),
        "churn_candidates": ["logistic_regression"],
        "churn_use_btyd": False,
    }
    env = {"RETENTION_ARTIFACTS": str(work / "artifacts")}
    db_path = work / "shop.duckdb"
    args = ["build", "--exclude", "test_type:unit"]
    run_dbt(args, db_path, dbt_vars=dbt_vars, env=env, timeout=1200)
    return work, db_path, args, dbt_vars, env


def published_state(target: Path) -> tuple[str, dict[str, str]]:
    """(build folder `current` points to, sha256 of every file in it)."""
    build = os.readlink(target / CURRENT)
    files = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((target / build).iterdir())
    }
    return build, files


def manifest_rows(folder: Path) -> dict[str, int]:
    manifest = json.loads((folder / MANIFEST).read_text())
    return {table["table_name"]: table["rows"] for table in manifest["tables"]}


def parquet_rows(folder: Path) -> dict[str, int]:
    with duckdb.connect() as connection:
        return {
            path.stem: connection.execute(
                f"select count(*) from read_parquet('{path}')"
            ).fetchone()[0]
            for path in sorted(folder.glob("*.parquet"))
        }


def kill_inside_the_model_layer(args, db_path, dbt_vars, env, log_path: Path) -> list[str]:
    """Start dbt, SIGKILL it when the KILL_AT-th intermediate model starts; its output lines."""
    command = [str(DBT), *args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT),
               "--vars", json.dumps(dbt_vars)]  # fmt: skip
    work_dir = db_path.parent / f"{db_path.stem}_dbt"
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=dbt_env(db_path, work_dir, {**env, "PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches any child
    )
    lines = []
    deadline = time.monotonic() + 600
    try:
        for line in process.stdout:
            lines.append(line)
            if sum(KILL_WHEN in seen for seen in lines) >= KILL_AT or time.monotonic() > deadline:
                break
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        log_path.write_text("".join(lines))
    assert process.returncode == -signal.SIGKILL, "dbt ended before it could be killed"
    assert sum(KILL_WHEN in line for line in lines) == KILL_AT, "never got into the model layer"
    assert not any("publish_marts" in line for line in lines)
    return lines


def test_a_killed_build_leaves_the_published_marts_intact_and_the_next_one_recovers(setup):
    work, db_path, args, dbt_vars, env = setup
    target = work / "published" / db_path.stem
    before_build, before_files = published_state(target)
    published_rows = manifest_rows(target / before_build)
    assert "dim_customers" in published_rows and published_rows["dim_customers"] > 0
    assert parquet_rows(target / before_build) == published_rows

    kill_inside_the_model_layer(args, db_path, dbt_vars, env, work / "killed_build.log")

    # The published marts: the same folder, byte for byte, and readable.
    assert published_state(target) == (before_build, before_files)
    assert parquet_rows(target / CURRENT) == published_rows
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == sorted(
        [CURRENT, before_build]
    )
    # The database opens after the kill, and its marts are the published ones.
    with duckdb.connect(str(db_path), read_only=True) as connection:
        for table, rows in published_rows.items():
            assert connection.execute(f"select count(*) from marts.{table}").fetchone()[0] == rows

    # The next build takes the lock, rebuilds and publishes a new complete folder.
    run_dbt(args, db_path, dbt_vars=dbt_vars, env=env, timeout=1200)
    after_build, _ = published_state(target)
    assert after_build != before_build
    republished = manifest_rows(target / after_build)
    assert republished.keys() == published_rows.keys()
    assert parquet_rows(target / CURRENT) == republished
    # Same data, same customer marts. (The registry marts may grow: a rerun also
    # evaluates the existing champion against the new run.)
    for table, rows in published_rows.items():
        if not table.startswith("fct_model_"):
            assert republished[table] == rows, table
    assert (target / before_build / MANIFEST).is_file()  # the previous publish is kept
