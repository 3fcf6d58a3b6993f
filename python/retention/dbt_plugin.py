"""A dbt-duckdb plugin (profiles.yml, ``plugins``) that turns DuckDB's lock error into
one that says what to do, imports scikit-learn once before any Python model runs, and
sets DuckDB's memory limit from the machine.

DuckDB lets one process hold a database file while it writes, so a build fails at once
when a notebook, ``retention query``, a SQL client or another dbt run has the file open.
DuckDB's own message names the process but not the fix; this checks the file just
before dbt connects and raises one that does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from retention.warehouse import is_lock_error, locked_for_writing_message


def check_not_locked(path: Path) -> None:
    """Raise RuntimeError with an actionable message when another process holds ``path``.

    Opens the file read-write and closes it at once; dbt connects right after. A file
    that does not exist yet cannot be locked."""
    if str(path) == ":memory:" or not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as error:
        if is_lock_error(error):
            # dbt-duckdb reports a RuntimeError from connecting as a connection failure.
            raise RuntimeError(locked_for_writing_message(path, error)) from error
        # Anything else: dbt's own connect reports it, as without this plugin.


# Every scikit-learn module the package imports (tests/python/test_dbt_plugin.py checks the
# list against the source): the preload below imports them all.
SKLEARN_MODULES = (
    "sklearn.base",
    "sklearn.calibration",
    "sklearn.cluster",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.impute",
    "sklearn.isotonic",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.neighbors",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.svm",
)


def preload_scikit_learn() -> None:
    """Import the scikit-learn modules the package uses in dbt's main thread, before its
    worker threads start.

    dbt runs Python models in threads of one process; two of them importing sklearn for
    the first time at once can get a partially initialized module ("cannot import name
    'clone' from partially initialized module 'sklearn.base'") or a `_DeadlockError`
    (`sklearn.tree._criterion`, when churn training and customer value both imported
    `sklearn.ensemble`): sklearn's imports are circular, and Python's deadlock avoidance
    hands one thread the half-built module or gives up. Seen with the default two threads
    (docs/toolchain.md, gotcha 15). About 1.5 s, once per dbt invocation that connects to
    the warehouse."""
    import importlib

    for module in SKLEARN_MODULES:
        importlib.import_module(module)


# DuckDB's share of the machine's memory. Not DuckDB's own default (80%): the dbt Python
# models run in the same process and hold their frames, models and Keras graphs outside
# that limit (docs/scale.md).
MEMORY_SHARE = 0.5
CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")


def machine_memory_bytes() -> int:
    """Physical memory, or the container's cgroup limit when that is lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = CGROUP_LIMIT.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def memory_limit(environ: dict[str, str] | None = None, total_bytes: int | None = None) -> str:
    """RETENTION_DUCKDB_MEMORY_LIMIT when set (any DuckDB size, e.g. ``16GB``), else
    MEMORY_SHARE of the machine's memory, in whole MiB."""
    environ = os.environ if environ is None else environ
    if environ.get("RETENTION_DUCKDB_MEMORY_LIMIT"):
        return environ["RETENTION_DUCKDB_MEMORY_LIMIT"]
    total = machine_memory_bytes() if total_bytes is None else total_bytes
    return f"{int(total * MEMORY_SHARE) // 2**20}MiB"


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        check_not_locked(Path(creds.path))
        preload_scikit_learn()
        # Set at connect, not in the profile's `settings`: dbt-duckdb re-applies those on
        # every cursor, and a profile cannot read the machine's memory.
        config.setdefault("memory_limit", memory_limit())
