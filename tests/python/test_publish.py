"""Publishing the marts to Parquet (retention.publish): complete, atomic, prunes safely."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import duckdb
import pytest

from dbt_runner import REPO_ROOT
from retention.publish import CURRENT, MANIFEST, PublishError, publish_marts

# fct_gamma is big enough that a publish takes a while, so reads overlap it.
TABLES = {"fct_alpha": 3, "fct_beta": 5, "fct_gamma": 500_000}


def fill(connection: duckdb.DuckDBPyConnection, version: int) -> None:
    """(Re)build the fake marts: every row carries the version, and the row count
    grows with it, so a reader can tell which publish a file came from."""
    connection.execute("create schema if not exists marts")
    for table, rows in TABLES.items():
        connection.execute(
            f"create or replace table marts.{table} as "
            f"select range as id, {version} as version from range({rows + version})"
        )


@pytest.fixture
def warehouse(tmp_path):
    connection = duckdb.connect(str(tmp_path / "shop.duckdb"))
    fill(connection, version=1)
    connection.execute("create schema raw")
    connection.execute("create table raw.not_a_mart as select 1 as x")
    yield connection
    connection.close()


def read(path: Path) -> tuple[int, int, int]:
    """(rows, min version, max version) of a Parquet file, on a connection of its own."""
    with duckdb.connect() as reader:
        return reader.execute(
            f"select count(*), min(version), max(version) from read_parquet('{path}')"
        ).fetchone()


def builds(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir() if p.is_dir() and not p.is_symlink())


def test_publish_writes_every_mart_and_points_current_at_a_complete_folder(warehouse, tmp_path):
    root = tmp_path / "published"
    manifest = publish_marts(warehouse, root=root)

    target = root / "shop"  # the database file's stem
    current = target / CURRENT
    assert current.is_symlink() and not os.path.isabs(os.readlink(current))
    build = current.resolve()
    assert build.parent == target and builds(target) == [build.name]
    assert sorted(manifest["table_name"]) == sorted(TABLES)  # not raw.not_a_mart
    assert list(manifest.columns) == ["table_name", "rows", "path", "published_at", "build_id"]
    for table, rows in TABLES.items():
        assert read(current / f"{table}.parquet") == (rows + 1, 1, 1)
    assert dict(zip(manifest["table_name"], manifest["rows"], strict=True)) == {
        t: r + 1 for t, r in TABLES.items()
    }
    written = json.loads((build / MANIFEST).read_text())
    assert written["build_id"] == build.name
    assert {t["table_name"]: t["rows"] for t in written["tables"]} == {
        t: r + 1 for t, r in TABLES.items()
    }


def test_a_second_publish_switches_current_and_keeps_only_the_previous_folder(warehouse, tmp_path):
    root = tmp_path / "published"
    target = root / "shop"
    publish_marts(warehouse, root=root)
    first = (target / CURRENT).resolve()

    fill(warehouse, version=2)
    publish_marts(warehouse, root=root)
    second = (target / CURRENT).resolve()
    assert second != first
    assert read(second / "fct_alpha.parquet") == (5, 2, 2)
    # The previous publish is still complete for readers that resolved it earlier.
    assert read(first / "fct_alpha.parquet") == (4, 1, 1)
    assert builds(target) == sorted([first.name, second.name])

    fill(warehouse, version=3)
    publish_marts(warehouse, root=root)
    third = (target / CURRENT).resolve()
    assert builds(target) == sorted([second.name, third.name])  # the oldest is pruned
    assert not any(p.name.startswith(f".{CURRENT}-") for p in target.iterdir())


def read_during(action, paths: list[Path]) -> dict[Path, list[tuple[int, int, int]]]:
    """Read every path over and over in another thread while ``action`` runs."""
    reads: dict[Path, list[tuple[int, int, int]]] = {path: [] for path in paths}
    errors: list[BaseException] = []
    started, done = threading.Event(), threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                for path in paths:
                    reads[path].append(read(path))
                started.set()
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            started.set()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        started.wait(timeout=60)
        action()
    finally:
        done.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert all(reads.values())
    return reads


def test_readers_see_complete_publishes_while_new_ones_are_written(warehouse, tmp_path):
    root = tmp_path / "published"
    target = root / "shop"
    via_current = target / CURRENT / "fct_beta.parquet"
    publish_marts(warehouse, root=root)
    held = (target / CURRENT).resolve() / "fct_beta.parquet"  # resolved before the next publish

    def publish(versions):
        def action():
            for version in versions:
                fill(warehouse, version=version)
                publish_marts(warehouse, root=root)

        return action

    # A reader holding the old folder keeps working through the next publish.
    reads = read_during(publish([2]), [via_current, held])
    assert set(reads[held]) == {(TABLES["fct_beta"] + 1, 1, 1)}
    # Every read through `current` is one whole publish: one version, its full row count.
    reads = read_during(publish([3, 4, 5]), [via_current])
    for rows, low, high in reads[via_current]:
        assert low == high and rows == TABLES["fct_beta"] + low
    assert read(via_current) == (TABLES["fct_beta"] + 5, 5, 5)


def test_a_failed_publish_leaves_current_on_the_previous_complete_publish(warehouse, tmp_path):
    root = tmp_path / "published"
    target = root / "shop"
    publish_marts(warehouse, root=root)
    before = (target / CURRENT).resolve()

    fill(warehouse, version=2)
    # fct_alpha exports first, then the missing table fails mid-publish.
    with pytest.raises(PublishError, match=f"still points to {before.name}"):
        publish_marts(warehouse, root=root, tables=["fct_alpha", "fct_zeta_missing"])
    assert (target / CURRENT).resolve() == before
    assert builds(target) == [before.name]  # the partial folder is gone
    for table, rows in TABLES.items():
        assert read(target / CURRENT / f"{table}.parquet") == (rows + 1, 1, 1)

    with pytest.raises(PublishError, match="wrote 5 rows, expected 99"):
        publish_marts(warehouse, root=root, expected_rows={"fct_alpha": 99})
    assert (target / CURRENT).resolve() == before


def test_every_mart_model_is_listed_for_publishing():
    """publish_marts only runs after, and only publishes, the marts that
    publish_mart_tables refs: a mart missing there would never reach BI tools."""
    marts = REPO_ROOT / "models" / "marts"
    models = {
        path.stem
        for path in marts.rglob("*")
        if path.suffix in {".sql", ".py"} and path.parent.name != "publish"
    }
    listing = (marts / "publish" / "publish_mart_tables.sql").read_text()
    listed = set(re.findall(r"'(\w+)'", listing))
    missing = sorted(models - listed)
    assert not missing, f"add {missing} to models/marts/publish/publish_mart_tables.sql"
