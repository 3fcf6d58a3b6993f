"""Every column a model actually has is described, and no description names a column
the model does not have.

dbt-score (`make unit`, `make lint`; pyproject.toml) checks what the manifest alone can:
every model and every declared column described, the marts' contracts, keys and PII. A
column a model has but its YAML does not declare is invisible there, so this test compares
the descriptions from the manifest of `dbt parse` (the demo's vars) with the columns of the
built demo warehouse (what `dbt docs generate` puts in the catalog), read-only.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from dbt_runner import run_dbt
from demo_warehouse import demo_warehouse

pytestmark = pytest.mark.integration  # reads the demo warehouse


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("docs")
    run_dbt(["parse"], work / "parse.duckdb", work_dir=work)
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    found = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert len(found) > 30, "the demo should enable most models"
    return found


@pytest.fixture(scope="module")
def columns(models, tmp_path_factory) -> dict[str, list[str]]:
    """Each model's columns in the demo warehouse, in order."""
    db_path = demo_warehouse(tmp_path_factory)
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " order by table_schema, table_name, ordinal_position"
        ).fetchall()
    by_relation: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        by_relation.setdefault((schema, table), []).append(column.lower())
    result = {}
    for name, node in models.items():
        relation = (node["schema"], node["alias"])
        assert relation in by_relation, (
            f"{name} is not in {db_path}; rebuild the demo warehouse (make demo)"
        )
        result[name] = by_relation[relation]
    return result


def test_every_column_of_every_model_is_described(models, columns) -> None:
    missing = {}
    for name, node in models.items():
        described = {c.lower() for c, doc in node["columns"].items() if doc["description"].strip()}
        gaps = [column for column in columns[name] if column not in described]
        if gaps:
            missing[name] = gaps
    assert missing == {}, f"describe these columns in the model's yml: {missing}"


def test_no_description_names_a_column_the_model_lacks(models, columns) -> None:
    stale = {}
    for name, node in models.items():
        extra = sorted(c for c in node["columns"] if c.lower() not in columns[name])
        if extra:
            stale[name] = extra
    assert stale == {}, f"documented but not in the model: {stale}"
