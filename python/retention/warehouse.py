"""Read-only access to the built warehouse: where it is, what it holds, ad-hoc SQL.

Used by `retention summary` (printed at the end of `make demo`) and
`retention query`. Opening the file read-only never blocks a build for long,
but DuckDB allows only one writer: close readers before building.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

LAYERS = ("raw", "staging", "intermediate", "ml", "marts")


def database_path() -> Path:
    """The DuckDB file profiles.yml points at (RETENTION_HOME / RETENTION_DB)."""
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd()))
    name = os.environ.get("RETENTION_DB", "retention.duckdb")
    path = Path(name)
    return path if path.is_absolute() else home / path


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    path = path or database_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"No warehouse at {path}. Build it first: `make demo` (or `dbt build`)."
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise RuntimeError(
                f"{path} is locked by another process (a running `dbt build`?). "
                "Wait for it to finish, or read the published copy instead."
            ) from error
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
        f"BI tools: read the Parquet copies in {path.parent / 'published' / path.stem / 'current'}/",
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
        con.sql(args.sql).show(max_rows=args.max_rows)
    return 0
