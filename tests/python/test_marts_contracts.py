"""Every public mart is contracted, documented, keyed and free of raw PII (docs/style.md,
"Tests and docs"; docs/architecture.md, "Public marts"), read from dbt's parsed manifest."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from dbt_runner import REPO_ROOT, run_dbt

# Marts without an enforced contract, and why (each is also said in its YAML).
NO_CONTRACT = {
    # Feature columns depend on the enabled sources and the window vars.
    "fct_customer_snapshots": "columns depend on enabled sources and feature windows",
}
# Column names that would carry raw PII: the pii_column_words var, the one list the dbt
# test assert_no_pii_columns_in_marts reads too, as whole "_"-separated words. Staging
# pseudonymises the email (email_hash stays in staging); no mart may carry any of these,
# hashed or not.
PII_WORDS = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]["pii_column_words"]
PII = re.compile(r"(^|_)(" + "|".join(map(re.escape, PII_WORDS)) + r")(_|$)")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("manifest")
    run_dbt(["parse"], work / "parse.duckdb", work_dir=work)
    return json.loads((work / "target" / "manifest.json").read_text())


def marts(manifest: dict) -> dict[str, dict]:
    """Every enabled model under models/marts except the publish step."""
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
        and "/publish/" not in node["original_file_path"]
    }


def test_there_are_marts_to_check(manifest):
    names = set(marts(manifest))
    assert {"dim_customers", "fct_churn_scores", "fct_model_monitoring"} <= names


def test_every_sql_mart_enforces_its_contract(manifest):
    missing = sorted(
        name
        for name, node in marts(manifest).items()
        if node["language"] == "sql"
        and name not in NO_CONTRACT
        and not node["config"]["contract"]["enforced"]
    )
    assert not missing, f"add `contract: {{enforced: true}}` to {missing}"
    assert all(name in marts(manifest) for name in NO_CONTRACT), "stale exception"


def test_every_mart_and_column_is_described(manifest):
    undocumented = []
    for name, node in marts(manifest).items():
        if not node["description"].strip():
            undocumented.append(name)
        if not node["columns"]:
            undocumented.append(f"{name}: no columns declared")
        for column, spec in node["columns"].items():
            if not (spec.get("description") or "").strip():
                undocumented.append(f"{name}.{column}")
    assert not undocumented, undocumented


def test_every_contracted_column_has_a_data_type(manifest):
    untyped = [
        f"{name}.{column}"
        for name, node in marts(manifest).items()
        if node["config"]["contract"]["enforced"]
        for column, spec in node["columns"].items()
        if not spec.get("data_type")
    ]
    assert not untyped, untyped


def primary_key_tests(manifest: dict) -> dict[str, set[str]]:
    """Per model: 'unique_combination' or each column that has both unique and not_null."""
    per_column: dict[tuple[str, str], set[str]] = {}
    keys: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        test = node["test_metadata"]["name"]
        model = node.get("attached_node") or ""
        if test == "unique_combination_of_columns":
            keys.setdefault(model, set()).add("unique_combination")
        elif test in ("unique", "not_null") and node.get("column_name"):
            per_column.setdefault((model, node["column_name"]), set()).add(test)
    for (model, column), tests in per_column.items():
        if tests == {"unique", "not_null"}:
            keys.setdefault(model, set()).add(column)
    return keys


def test_every_mart_has_a_primary_key_test(manifest):
    keys = primary_key_tests(manifest)
    unkeyed = sorted(
        name for name, node in marts(manifest).items() if node["unique_id"] not in keys
    )
    assert not unkeyed, f"add unique + not_null (or unique_combination_of_columns) to {unkeyed}"


def test_no_mart_carries_raw_pii(manifest):
    offending = [
        f"{name}.{column}"
        for name, node in marts(manifest).items()
        for column, spec in node["columns"].items()
        if PII.search(column.lower()) or "pii" in (spec.get("tags") or [])
    ]
    assert not offending, offending
