"""The project's dbt-score rules (dbt_score_rules/marts.py) on hand-made marts: a
good one passes, and each way of breaking a mart fails the rule made for it.

`make unit` (and `make lint`) run the rules on the real project's manifest; this test shows
each rule can fail, so a passing project run means something.
"""

from __future__ import annotations

import copy
import importlib.util

import pytest
from dbt_score import Model

from dbt_runner import REPO_ROOT


def _load_rules():
    """dbt-score imports dbt_score_rules from the project root; this test loads it by path."""
    path = REPO_ROOT / "dbt_score_rules" / "marts.py"
    spec = importlib.util.spec_from_file_location("dbt_score_rules_marts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rules = _load_rules()

COLUMN = {"description": "what it is", "meta": {}, "constraints": [], "tags": []}


def node(name: str = "dim_things", path: str = "models/marts/core/dim_things.sql", **extra):
    values = {
        "unique_id": f"model.retention.{name}",
        "name": name,
        "description": "one row per thing",
        "original_file_path": path,
        "config": {"contract": {"enforced": True}, "materialized": "table"},
        "meta": {},
        "columns": {
            "thing_id": {**COLUMN, "name": "thing_id", "data_type": "varchar"},
            "size": {**COLUMN, "name": "size", "data_type": "double"},
        },
        "package_name": "retention",
        "database": "db",
        "schema": "marts",
        "raw_code": "select 1",
        "language": "sql",
        "access": "protected",
        "alias": name,
        "tags": [],
        "depends_on": {"nodes": []},
        "constraints": [],
    }
    values.update(extra)
    return values


def column_test(kind: str, column: str = "thing_id") -> dict:
    return {
        "name": f"{kind}_{column}",
        "test_metadata": {"name": kind, "kwargs": {"column_name": column}},
    }


KEYED = [column_test("unique"), column_test("not_null")]


def model(values: dict, tests: list[dict] = KEYED) -> Model:
    return Model.from_node(values, tests)


def violations(mart: Model) -> dict[str, str]:
    """Rule name -> message of every project rule the mart breaks."""
    checks = {
        "contract": rules.sql_mart_enforces_its_contract,
        "columns": rules.mart_declares_its_columns,
        "data_type": rules.contracted_columns_have_a_data_type,
        "primary_key": rules.mart_has_a_primary_key_test,
        "pii": rules.mart_has_no_raw_pii,
    }
    found = {}
    for name, rule in checks.items():
        violation = rule().evaluate(mart)
        if violation is not None:
            found[name] = violation.message
    return found


def test_a_complete_mart_passes_every_rule():
    assert violations(model(node())) == {}
    keyed_by_combination = {
        "name": "unique_combination_of_columns_dim_things",
        "test_metadata": {"name": "unique_combination_of_columns", "kwargs": {}},
    }
    assert violations(model(node(), [keyed_by_combination])) == {}


def test_the_rules_apply_to_public_marts_only():
    keep = rules.is_public_mart()
    assert keep.evaluate(model(node()))
    assert not keep.evaluate(model(node(path="models/intermediate/int_things.sql")))
    assert not keep.evaluate(model(node(path="models/marts/publish/publish_marts.sql")))


def test_a_sql_mart_without_a_contract_fails():
    values = node(config={"contract": {"enforced": False}, "materialized": "table"})
    assert set(violations(model(values))) == {"contract"}
    # A Python mart cannot enforce one; a listed exception need not.
    assert violations(model({**values, "language": "python"})) == {}
    assert violations(model({**values, "name": "fct_customer_snapshots"})) == {}


def test_a_mart_without_declared_columns_fails():
    found = violations(model(node(columns={}), tests=[]))
    assert set(found) == {"columns", "primary_key"}


def test_a_contracted_column_without_a_data_type_fails():
    values = node()
    values["columns"]["size"] = {**COLUMN, "name": "size"}
    assert violations(model(values)) == {"data_type": "no data_type: size"}


@pytest.mark.parametrize(
    "tests", [[], [column_test("unique")], [column_test("not_null"), column_test("unique", "size")]]
)
def test_a_mart_without_a_key_test_fails(tests):
    assert set(violations(model(node(), tests))) == {"primary_key"}


@pytest.mark.parametrize("column", ["email", "customer_email_hash", "phone", "ip_address"])
def test_a_column_named_like_pii_fails(column):
    values = copy.deepcopy(node())
    values["columns"][column] = {**COLUMN, "name": column, "data_type": "varchar"}
    assert set(violations(model(values))) == {"pii"}


def test_a_column_tagged_pii_fails_and_lookalikes_pass():
    values = copy.deepcopy(node())
    values["columns"]["size"]["tags"] = ["pii"]
    values["columns"]["zipped_orders"] = {**COLUMN, "name": "zipped_orders", "data_type": "int"}
    values["columns"]["shipment_days"] = {**COLUMN, "name": "shipment_days", "data_type": "int"}
    assert violations(model(values)) == {"pii": "raw PII columns: size"}
