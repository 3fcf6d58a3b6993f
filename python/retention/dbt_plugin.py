"""A dbt-duckdb plugin (profiles.yml, ``plugins``) that turns DuckDB's lock error into
one that says what to do.

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


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        check_not_locked(Path(creds.path))
