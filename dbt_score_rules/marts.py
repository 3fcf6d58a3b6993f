"""Every public mart is contracted, documented, keyed and free of raw PII.

Run by `make unit` and `make test` (dbt-score lint on the parsed manifest); each rule is
exercised on hand-made marts that break it in tests/python/test_dbt_score_rules.py.
"""

import re
from pathlib import Path

import yaml
from dbt_score import Model, RuleViolation, rule, rule_filter

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Marts without an enforced contract, and why (each is also said in its YAML).
NO_CONTRACT = {
    # Feature columns depend on the enabled sources and the window vars.
    "fct_customer_snapshots": "columns depend on enabled sources and feature windows",
}
# Column names that would carry raw PII: the pii_column_words var, the one list the dbt
# test assert_no_pii_columns_in_marts reads too, as whole "_"-separated words. Staging
# pseudonymises the email (email_hash stays in staging); no mart may carry any of these,
# hashed or not.
PII_WORDS = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"][
    "pii_column_words"
]
PII = re.compile(r"(^|_)(" + "|".join(map(re.escape, PII_WORDS)) + r")(_|$)")


@rule_filter
def is_public_mart(model: Model) -> bool:
    """Models under models/marts/, except the publish step."""
    path = model.original_file_path
    return path.startswith("models/marts/") and "/publish/" not in path


def _contracted(model: Model) -> bool:
    return bool((model.config.get("contract") or {}).get("enforced"))


@rule(rule_filters={is_public_mart()})
def sql_mart_enforces_its_contract(model: Model) -> RuleViolation | None:
    """A SQL mart enforces its contract (Python models cannot: their SQL mart does)."""
    if model.language == "sql" and model.name not in NO_CONTRACT and not _contracted(model):
        return RuleViolation("add `contract: {enforced: true}` (or a reason in NO_CONTRACT)")
    return None


@rule(rule_filters={is_public_mart()})
def mart_declares_its_columns(model: Model) -> RuleViolation | None:
    """A mart's YAML declares its columns, so BI users can read what each one means."""
    if not model.columns:
        return RuleViolation("no columns declared in the mart's YAML")
    return None


@rule(rule_filters={is_public_mart()})
def contracted_columns_have_a_data_type(model: Model) -> RuleViolation | None:
    """Every column of a contracted mart has a data_type."""
    untyped = [c.name for c in model.columns if _contracted(model) and not c.data_type]
    if untyped:
        return RuleViolation(f"no data_type: {', '.join(untyped)}")
    return None


@rule(rule_filters={is_public_mart()})
def mart_has_a_primary_key_test(model: Model) -> RuleViolation | None:
    """unique and not_null on one column, or unique_combination_of_columns."""
    if any(t.type == "unique_combination_of_columns" for t in model.tests):
        return None
    for column in model.columns:
        if {"unique", "not_null"} <= {t.type for t in column.tests}:
            return None
    return RuleViolation(
        "add unique + not_null to the key column (or unique_combination_of_columns)"
    )


@rule(rule_filters={is_public_mart()})
def mart_has_no_raw_pii(model: Model) -> RuleViolation | None:
    """No mart column is named like raw PII or tagged pii."""
    offending = [c.name for c in model.columns if PII.search(c.name.lower()) or "pii" in c.tags]
    if offending:
        return RuleViolation(f"raw PII columns: {', '.join(offending)}")
    return None
