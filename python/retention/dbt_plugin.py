"""A dbt-duckdb plugin (profiles.yml, ``plugins``) that turns DuckDB's lock error into
one that says what to do, and imports scikit-learn once before any Python model runs.

DuckDB lets one process hold a database file while it writes, so a build fails at once
when a notebook, ``retention query``, a SQL client or another dbt run has the file open.
DuckDB's own message names the process but not the fix; this checks the file just
before dbt connects and raises one that does.
"""

from __future__ import annotations

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


def preload_scikit_learn() -> None:
    """Import scikit-learn in dbt's main thread, before its worker threads start.

    dbt runs Python models in threads of one process; two of them importing sklearn for
    the first time at once can get a partially initialized module ("cannot import name
    'clone' from partially initialized module 'sklearn.base'"): sklearn's imports are
    circular and Python's deadlock avoidance hands one thread the half-built module.
    Seen with the default two threads (docs/toolchain.md, gotcha 15). About a second,
    once per dbt invocation that connects to the warehouse."""
    import sklearn.base  # noqa: F401


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        check_not_locked(Path(creds.path))
        preload_scikit_learn()
