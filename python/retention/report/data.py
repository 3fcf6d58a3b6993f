"""Where the report reads the marts from: the build's published Parquet copy.

Why the Parquet publish and not the DuckDB file: the publish is written only
after every mart it lists has been built *and tested* (publish_marts runs last),
so the report never shows a failed or half-finished build; it can be rendered
while a new build holds the DuckDB write lock; and resolving ``current`` once
pins every section to one build. The marts are queried with DuckDB over the
files, so aggregates over the large marts (snapshots, customers) never load
them whole into memory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from retention.report import ReportInputError

CURRENT = "current"
MANIFEST = "manifest.json"


def default_publish_root() -> Path:
    """The build's default publish root, <RETENTION_HOME>/published (publish_path var)."""
    return Path(os.environ.get("RETENTION_HOME", Path.cwd())) / "published"


def published_folder(database: Path, publish_root: Path | None = None) -> Path:
    """<publish root>/<database stem>/current, resolved to the build folder it points at.

    Raises ReportInputError naming the missing thing and the command that makes it.
    """
    root = Path(publish_root) if publish_root else default_publish_root()
    current = root / database.stem / CURRENT
    if not current.exists():
        if not database.is_file():
            raise ReportInputError(
                f"No warehouse at {database} and no published marts at {current}. "
                "Build it first: run `make demo` (or `dbt build`)."
            )
        raise ReportInputError(
            f"{database} exists but no published marts were found at {current}: "
            "the last `dbt build` did not finish successfully, or ran with "
            "`publish_marts: false` or another `publish_path`. Run `make demo` "
            "(or `dbt build`) first, or pass --published."
        )
    folder = current.resolve()  # once: every table comes from the same build
    if not (folder / MANIFEST).is_file():
        raise ReportInputError(f"{folder} has no {MANIFEST}: not a complete publish.")
    return folder


@dataclass
class Marts:
    """The published marts of one build, queryable as ``marts.<table>``."""

    folder: Path
    manifest: dict
    connection: duckdb.DuckDBPyConnection = field(repr=False)

    @classmethod
    def open(cls, folder: Path) -> Marts:
        manifest = json.loads((folder / MANIFEST).read_text())
        connection = duckdb.connect()
        connection.execute("create schema marts")
        for entry in manifest.get("tables", []):
            path = folder / entry["file"]
            if not path.is_file():
                raise ReportInputError(f"the manifest lists {path}, which does not exist")
            name = entry["table_name"].replace('"', '""')
            literal = str(path).replace("'", "''")
            connection.execute(
                f"create view marts.\"{name}\" as select * from read_parquet('{literal}')"
            )
        return cls(folder, manifest, connection)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Marts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def tables(self) -> dict[str, int]:
        """Published table -> row count, from the manifest."""
        return {t["table_name"]: int(t["rows"]) for t in self.manifest.get("tables", [])}

    def has(self, table: str, *columns: str) -> bool:
        """The table was published with at least one row (and these columns)."""
        if self.tables.get(table, 0) == 0:
            return False
        if not columns:
            return True
        present = set(self.columns(table))
        return all(c in present for c in columns)

    def columns(self, table: str) -> list[str]:
        rows = self.connection.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.connection.execute(sql, params or []).df()

    def one(self, sql: str, params: list | None = None) -> tuple:
        return self.connection.execute(sql, params or []).fetchone()
