"""Read-only access to the built warehouse: where it is, what it holds, ad-hoc SQL.

Used by `retention summary` (printed at the end of `make demo`) and
`retention query`. Opening the file read-only never blocks a build for long,
but DuckDB allows only one writer: close readers before building.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention.errors import UserError

LAYERS = ("raw", "staging", "intermediate", "ml", "marts")


def database_path() -> Path:
    """The DuckDB file profiles.yml points at (RETENTION_HOME / RETENTION_DB)."""
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd()))
    name = os.environ.get("RETENTION_DB", "retention.duckdb")
    path = Path(name)
    return path if path.is_absolute() else home / path


def default_published_folder(path: Path) -> Path:
    """Where a build of ``path`` publishes by default: <RETENTION_HOME>/published/<stem>/current
    (the publish_path var's default, models/marts/publish), wherever the database file is."""
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd()))
    return home / "published" / path.stem / "current"


def published_folder(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Where the last successful build of this warehouse published its marts: the folder
    its publish_marts table lists (so a publish_path var is honoured), else the default."""
    schemas = con.execute(
        "select table_schema from information_schema.tables where table_name = 'publish_marts'"
    ).fetchall()
    row = None
    for (schema,) in schemas:
        try:
            row = con.execute(f'select path from "{schema}".publish_marts limit 1').fetchone()
        except duckdb.Error:
            continue
        if row:
            break
    if row and row[0]:
        return Path(row[0]).parent.parent / "current"
    return default_published_folder(path)


class WarehouseError(UserError):
    """The warehouse file is missing or held by another process."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def is_lock_error(error: BaseException) -> bool:
    return "could not set lock" in str(error).lower()


def lock_holder(error: BaseException) -> str:
    """'PID 123, /usr/bin/python3' from DuckDB's lock error, or 'another process'."""
    match = _LOCK_HOLDER.search(str(error))
    return f"PID {match['pid']}, {match['program']}" if match else "another process"


def locked_for_reading_message(path: Path, error: BaseException) -> str:
    published = default_published_folder(path)
    return (
        f"{path} is locked by another process ({lock_holder(error)}), most likely a running "
        f"`dbt build`, which needs the file alone. Wait for it to finish and retry, or read "
        f"the Parquet copies of the marts in {published}/ (or under your publish_path) meanwhile."
    )


def locked_for_writing_message(path: Path, error: BaseException) -> str:
    published = default_published_folder(path)
    return (
        f"Cannot build: {path} is open in another process ({lock_holder(error)}), and DuckDB "
        f"lets only one process use a file while it writes. Close that connection (a notebook, "
        f"`retention query`, a SQL client or BI tool, or another dbt run) or wait for it to "
        f"finish, then rerun. BI tools should read {published}/ (or the folder under your "
        "publish_path) instead of the database file."
    )


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse; WarehouseError says what to do when there
    is none or another process holds it."""
    path = path or database_path()
    if not path.is_file():
        raise WarehouseError(
            f"No warehouse at {path}. Build it first: `make demo` (or `dbt build`), or pass "
            "--database / set RETENTION_DB to the file you built."
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as error:
        if is_lock_error(error):
            raise WarehouseError(locked_for_reading_message(path, error)) from error
        raise


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    kind: str
    rows: int


def list_tables(con: duckdb.DuckDBPyConnection) -> list[TableInfo]:
    listed = con.execute(
        """
        select table_schema, table_name, table_type
        from information_schema.tables
        where table_schema in ({})
        order by table_schema, table_name
        """.format(", ".join("?" for _ in LAYERS)),
        list(LAYERS),
    ).fetchall()
    order = {layer: i for i, layer in enumerate(LAYERS)}
    tables = []
    for schema, name, kind in sorted(listed, key=lambda r: (order[r[0]], r[1])):
        rows = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        tables.append(TableInfo(schema, name, "view" if kind == "VIEW" else "table", rows))
    return tables


def summary_text(path: Path | None = None) -> str:
    path = path or database_path()
    with connect(path) as con:
        tables = list_tables(con)
        published = published_folder(con, path)
    lines = [f"Warehouse: {path}", ""]
    lines.append(f"{'layer':<13}{'relation':<44}{'kind':<7}{'rows':>12}")
    for t in tables:
        lines.append(f"{t.schema:<13}{t.name:<44}{t.kind:<7}{t.rows:>12,}")
    lines += [
        "",
        "Query it:",
        '  .venv/bin/retention query "select * from marts.fct_customer_snapshots limit 5"',
        f"  or in Python: duckdb.connect('{path}', read_only=True)",
        "Close readers before the next build: DuckDB allows one writer at a time.",
        f"BI tools: read the Parquet copies in {published}/",
        "  (republished atomically after every successful build; README, 'Reading the marts').",
    ]
    return "\n".join(lines)


# ---------- CLI: `retention summary` and `retention query`


def add_summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", type=Path, default=None, help="DuckDB file to describe")


def run_summary(args: argparse.Namespace) -> int:
    print(summary_text(args.database))
    return 0


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="a SQL statement, run read-only")
    parser.add_argument("--database", type=Path, default=None, help="DuckDB file to query")
    parser.add_argument("--max-rows", type=int, default=50)


def run_query(args: argparse.Namespace) -> int:
    with connect(args.database) as con:
        try:
            relation = con.sql(args.sql)
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise UserError(
                f"the query failed: {first_line} (the warehouse is opened read-only; "
                "`retention summary` lists its relations, `describe <schema>.<table>` its columns)"
            ) from error
        if relation is not None:  # statements such as SET return nothing to show
            relation.show(max_rows=args.max_rows)
    return 0
