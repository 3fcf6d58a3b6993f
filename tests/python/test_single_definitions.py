"""Each definition has one home (docs/architecture.md, "Definitions"): the models (SQL and
Python) and the package read it from there and never derive it again.

A grep over the source: every rule is a pattern that re-derives a definition, the files it
must not appear in, and its one home. A match elsewhere fails with the file, the line and
what to use instead. Each rule is also checked against the re-derivation it was written
for (the code as it was before issue 15), so a rule that can no longer match fails too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbt_runner import REPO_ROOT

MODELS = ("models/**/*.sql", "models/**/*.py")
MACROS = ("macros/**/*.sql",)
DATA_TESTS = ("tests/dbt/**/*.sql",)
PACKAGE = ("python/retention/**/*.py",)
PYTHON_TESTS = ("tests/python/**/*.py",)

# Re-derivations left in place on purpose, (rule, file) -> why. An entry that no longer
# matches fails the test: remove it then.
PENDING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    scope: tuple[str, ...]
    homes: tuple[str, ...]
    instead: str
    # the re-derivation the rule was written for: the rule must match it
    example: str

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


RULES = [
    Rule(
        "scoring_date",
        r"max\s*\(\s*as_of_date\s*\)|aggregate\(\s*[\"']max\(as_of_date",
        MODELS + MACROS + DATA_TESTS + PACKAGE,
        ("macros/definitions/as_of_date.sql",),
        "the build's scoring date: {{ retention.build_as_of_date() }} (an import CTE)",
        'as_of = dbt.ref("int_cutoffs_generated").aggregate("max(as_of_date)")',
    ),
    Rule(
        "latest_mature_cutoff",
        r"max\s*\(\s*cutoff_date\s*\)|snapshot_number\s*(<=|=|<)\s*[12]\b",
        MODELS + MACROS + PACKAGE,
        (),
        "int_cutoffs_generated.is_latest_mature_cutoff",
        'snapshots = dbt.ref("fct_customer_snapshots").filter("snapshot_number <= 1").df()',
    ),
    Rule(
        "latest_mature_cutoff_in_segments",
        r"is_label_mature",
        ("python/retention/segments/**/*.py",),
        (),
        "the is_latest_mature_cutoff column ml_customer_segments passes in",
        'mature = snapshots[snapshots["is_label_mature"].fillna(False).astype(bool)]',
    ),
    Rule(
        "label_horizon",
        r"activity_horizon_days|(?<!clv_)horizon_days[\"']\)\s*or\s*\d+",
        MODELS + MACROS + DATA_TESTS + PACKAGE,
        ("macros/definitions/label_horizon.sql", "macros/quality/validate_vars.sql"),
        "{{ retention.label_horizon_days() }} in SQL; int_cutoffs_generated.label_horizon_days "
        "(retention.definitions.label_horizon_days) in Python",
        'horizon = int(settings.get("horizon_days") or 90)',
    ),
    Rule(
        "churn_label",
        r"coalesce\([^)]*(orders|active_days)_in_(horizon|window)[^)]*\)\s*=\s*0"
        r"|\bas\s+is_churned\b",
        MODELS + MACROS,
        (
            "macros/definitions/churn_label.sql",
            "models/intermediate/int_snapshots_labelled.sql",
            "models/ml/ml_churn_outcomes.sql",
        ),
        "int_snapshots_labelled.is_churned, or {{ retention.churn_label(...) }} over "
        "{{ retention.label_window_activity(...) }}",
        "else coalesce(labels.orders_in_horizon, 0) = 0\n        end as is_churned,",
    ),
    Rule(
        "churn_outcomes_in_python",
        r"activity_date",
        ("python/retention/churn/monitoring.py", "models/ml/ml_churn_monitoring.py"),
        (),
        "ml_churn_outcomes (SQL) labels the predictions",
        'days = days.project("customer_id, activity_date").df()',
    ),
    Rule(
        "active",
        r"days_since_last_(order|activity)\s*<=?\s*[{\w]",
        MODELS + MACROS + PACKAGE,
        # the macro; and activity churn's eligibility (active_lookback_days)
        ("macros/definitions/activity.sql", "models/intermediate/int_snapshots_labelled.sql"),
        "{{ retention.is_active(...) }}, or dim_customers.is_active",
        "snapshots.days_since_last_activity <= {{ var('snapshot_every_days') }} as is_active,",
    ),
    Rule(
        "small_groups",
        r"var\(\s*[\"']min_group_size",
        MODELS + MACROS + DATA_TESTS,
        ("macros/definitions/small_groups.sql",),
        "{{ retention.is_small_group(n) }}, {{ retention.unless_small_group(n, value) }}, "
        "retention.min_group_size()",
        "customers < {{ var('min_group_size', 10) }} as is_suppressed,",
    ),
    Rule(
        "pii_words",
        r"\b(first_name|full_name|postcode|date_of_birth)\b",
        MODELS + MACROS + DATA_TESTS + PYTHON_TESTS,
        (),
        "the pii_column_words var in dbt_project.yml",
        "{% set pii_words = ['email', 'phone', 'first_name', 'last_name', 'full_name'] %}",
    ),
]


def files(patterns: tuple[str, ...]) -> list[Path]:
    found = {path for pattern in patterns for path in REPO_ROOT.glob(pattern)}
    return sorted(p for p in found if p.is_file() and p != Path(__file__))


def matches(rule: Rule) -> dict[str, list[str]]:
    """file -> the offending lines, outside the rule's homes."""
    found: dict[str, list[str]] = {}
    for path in files(rule.scope):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if relative in rule.homes:
            continue
        text = path.read_text(errors="replace")
        lines = [
            f"{relative}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
            for m in rule.regex.finditer(text)
        ]
        if lines:
            found[relative] = lines
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_definition_is_not_derived_again(rule: Rule) -> None:
    found = matches(rule)
    pending = {f for (name, f) in PENDING if name == rule.name}
    stale = sorted(pending - set(found))
    assert not stale, f"{rule.name}: {stale} no longer re-derive it; remove them from PENDING"
    offending = [line for f, lines in found.items() if f not in pending for line in lines]
    assert not offending, (
        f"{rule.name} is derived again outside its home; use {rule.instead}:\n"
        + "\n".join(offending)
    )


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_catches_the_re_derivation_it_was_written_for(rule: Rule) -> None:
    assert rule.regex.search(rule.example), f"{rule.name} no longer matches {rule.example!r}"


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_scans_real_files_and_homes_exist(rule: Rule) -> None:
    assert files(rule.scope), f"{rule.name}: its scope {rule.scope} matches no file"
    for home in rule.homes:
        assert (REPO_ROOT / home).is_file(), f"{rule.name}: home {home} is missing"
