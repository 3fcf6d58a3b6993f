"""Run dbt in a subprocess against a DuckDB file of its own (tests and benchmarks).

Each run gets its own database file and its own target/log folders, so it
never touches the developer's ``retention.duckdb`` and can run next to other
dbt invocations in the same checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]  # python/retention/ -> repository root
DBT = Path(sys.executable).with_name("dbt")


class DbtRunError(RuntimeError):
    """dbt exited non-zero; the message ends with the tail of its output."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str], tail: int):
        self.result = result
        output = (result.stdout or "") + (result.stderr or "")
        lines = output.rstrip().splitlines()[-tail:]
        super().__init__(
            f"dbt {' '.join(args)} exited with {result.returncode}; last lines:\n"
            + "\n".join(lines)
        )


def dbt_env(db_path: Path, work_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for one dbt run: its database, target and log folders."""
    env = {
        **os.environ,
        "RETENTION_HOME": str(REPO_ROOT),
        "RETENTION_DB": str(Path(db_path).resolve()),
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    env.update(extra or {})
    return env


def run_dbt(
    args: Sequence[str],
    db_path: Path,
    work_dir: Path | None = None,
    dbt_vars: dict[str, Any] | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    tail: int = 40,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` on the project against ``db_path``.

    ``work_dir`` holds target/ and logs/ (default: next to the database).
    Raises DbtRunError with the last ``tail`` lines of output when dbt fails
    and ``check`` is true; otherwise returns the completed process.
    """
    db_path = Path(db_path)
    work_dir = Path(work_dir) if work_dir is not None else db_path.parent / f"{db_path.stem}_dbt"
    work_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=dbt_env(db_path, work_dir, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise DbtRunError(args, result, tail)
    return result


def query(db_path: Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on the DuckDB file, opened read-only."""
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()
