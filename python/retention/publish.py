"""Publish the marts to Parquet so BI tools can read them while dbt rebuilds the database.

DuckDB lets one process write a database file, and a build holds it for minutes, so
BI tools read files instead. Layout, per database (its file stem)::

    <root>/<database>/<build_id>/<table>.parquet   one complete, immutable publish
    <root>/<database>/<build_id>/manifest.json     what it holds (written last)
    <root>/<database>/current -> <build_id>        symlink, switched atomically

A publish writes a new build folder next to the others, then replaces ``current`` in one
``os.replace`` (a rename, atomic on POSIX), so a reader resolving ``current`` sees either
the previous complete publish or the new one, never a mix or a half-written file. The
previous build folder is kept, so a reader that resolved ``current`` just before the
switch can finish; older ones are deleted. If anything fails before the switch,
``current`` is untouched and the partial folder is removed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

log = logging.getLogger(__name__)

CURRENT = "current"
MANIFEST = "manifest.json"
# <UTC timestamp>-<random>: sorts by time, unique even for two publishes in one second.
BUILD_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")
MANIFEST_COLUMNS = ["table_name", "rows", "path", "published_at", "build_id"]


class PublishError(RuntimeError):
    """A table could not be published; ``current`` still points to the previous publish."""


def new_build_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


def database_stem(connection: duckdb.DuckDBPyConnection) -> str:
    """The stem of the database file (``retention`` for retention.duckdb)."""
    row = connection.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    if row and row[0]:
        return Path(row[0]).stem
    return connection.execute("select current_database()").fetchone()[0]


def list_tables(connection: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Every table and view in ``schema`` of the current database."""
    rows = connection.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? order by table_name",
        [schema],
    ).fetchall()
    return [row[0] for row in rows]


def current_build(target: Path) -> str | None:
    """The build folder ``current`` points to, if any."""
    link = target / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def exclusive_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on lock_file (created if absent) for the block, across
    processes."""
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish_lock(target: Path):
    """One publisher per database folder at a time, so none prunes another's build."""
    return exclusive_lock(target / ".publish.lock")


def _export(connection: duckdb.DuckDBPyConnection, schema: str, table: str, path: Path) -> int:
    source = f"{_quote_identifier(schema)}.{_quote_identifier(table)}"
    connection.execute(
        f"copy (select * from {source}) to {_quote_literal(str(path))} (format parquet)"
    )
    # Count what was written, from the file's own metadata.
    return connection.execute(
        f"select count(*) from read_parquet({_quote_literal(str(path))})"
    ).fetchone()[0]


def switch_current(target: Path, build_id: str) -> None:
    """Point ``target/current`` at ``build_id`` in one atomic rename."""
    temporary = target / f".{CURRENT}-{build_id}"
    if temporary.is_symlink():
        temporary.unlink()
    # Relative, so the published tree can be moved or mounted elsewhere.
    os.symlink(build_id, temporary, target_is_directory=True)
    os.replace(temporary, target / CURRENT)


def prune(target: Path, keep: Sequence[str | None]) -> list[str]:
    """Delete build folders (and leftover temporary links) not in ``keep``."""
    removed = []
    for entry in target.iterdir():
        if entry.name.startswith(f".{CURRENT}-") and entry.is_symlink():
            entry.unlink()
        elif BUILD_ID.match(entry.name) and entry.name not in keep and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return sorted(removed)


def _export_checked(
    connection: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    build: Path,
    expected: int | None,
) -> dict[str, object]:
    """Write one table to the build folder; its manifest row. Checks the row count."""
    path = build / f"{table}.parquet"
    written = _export(connection, schema, table, path)
    if expected is not None and int(expected) != written:
        raise PublishError(f"{table}: wrote {written} rows, expected {expected}")
    return {"table_name": table, "rows": written, "path": str(path)}


def _write_manifest(
    build: Path, database: str, schema: str, published_at: dt.datetime, rows: list[dict]
) -> None:
    manifest = {
        "build_id": build.name,
        "database": database,
        "schema": schema,
        "published_at": published_at.isoformat(),
        "tables": [
            {
                "table_name": row["table_name"],
                "rows": row["rows"],
                "file": f"{row['table_name']}.parquet",
            }
            for row in rows
        ],
    }
    (build / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def publish_marts(
    connection: duckdb.DuckDBPyConnection,
    root: str | Path,
    tables: Sequence[str] | None = None,
    schema: str = "marts",
    database: str | None = None,
    expected_rows: Mapping[str, int] | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Export ``tables`` (default: every table in ``schema``) to a new build folder under
    ``root/<database>/`` and switch ``current`` to it; keep the previous build, delete
    older ones. Returns the manifest: one row per table (table_name, rows, path,
    published_at, build_id). ``expected_rows`` (table -> row count) is checked against
    what was written. Raises PublishError, leaving ``current`` unchanged, on any failure.
    """
    now = now or dt.datetime.now(dt.UTC)
    database = database or database_stem(connection)
    tables = sorted(tables) if tables is not None else list_tables(connection, schema)
    if not tables:
        raise PublishError(f"nothing to publish: no table in schema {schema!r}")
    target = Path(root).resolve() / database
    target.mkdir(parents=True, exist_ok=True)
    build_id = new_build_id(now)
    build = target / build_id
    published_at = now.replace(tzinfo=None)  # naive UTC, like every timestamp in the warehouse

    with _publish_lock(target):
        build.mkdir()
        try:
            rows = [
                _export_checked(connection, schema, table, build, (expected_rows or {}).get(table))
                for table in tables
            ]
            for row in rows:
                row.update(published_at=published_at, build_id=build_id)
            _write_manifest(build, database, schema, published_at, rows)
        except Exception as error:
            shutil.rmtree(build, ignore_errors=True)
            raise PublishError(
                f"publishing {database} failed; {CURRENT} still points to "
                f"{current_build(target)}: {error}"
            ) from error

        previous = current_build(target)
        switch_current(target, build_id)
        removed = prune(target, keep=[build_id, previous])
    log.info(
        "published %d tables to %s (previous %s kept, %d older removed)",
        len(rows),
        build,
        previous,
        len(removed),
    )
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
