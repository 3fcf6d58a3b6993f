"""Layers flow one way (docs/architecture.md, "Layers"), read from the models' own
ref() and source() calls: only staging reads sources; staging reads no stg_ model;
intermediate reads no mart, no ml model. A grep, so it runs in the unit tier.

Each rule is also checked against the inversion it was written for (as the code was
before issue 15), so a rule that can no longer match fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbt_runner import REPO_ROOT

MODELS = REPO_ROOT / "models"
SOURCE = re.compile(r"\bsource\(\s*['\"]")
REF = re.compile(r"\bref\(\s*['\"](\w+)['\"]\s*\)")
MART = re.compile(r"^(fct|dim)_")

# Inversions left in place, model -> why. An entry that no longer matches fails the test.
PENDING: dict[str, str] = {}


def model_files(layer: str) -> list[Path]:
    return sorted(p for p in (MODELS / layer).rglob("*") if p.suffix in (".sql", ".py"))


def refs(path: Path) -> set[str]:
    return set(REF.findall(path.read_text()))


def sources_outside_staging() -> dict[str, Path]:
    return {
        p.stem: p
        for layer in ("intermediate", "ml", "marts")
        for p in model_files(layer)
        if SOURCE.search(p.read_text())
    }


def test_the_layers_hold_models():
    for layer in ("staging", "intermediate", "ml", "marts"):
        assert len(model_files(layer)) >= 3, f"models/{layer} should hold models"


def test_only_staging_reads_sources():
    found = sources_outside_staging()
    stale = sorted(set(PENDING) - set(found))
    assert not stale, f"{stale} no longer read a source; remove them from PENDING"
    offending = sorted(str(p.relative_to(REPO_ROOT)) for n, p in found.items() if n not in PENDING)
    assert not offending, f"read the stg_ model instead of the source in {offending}"


def test_staging_reads_no_staging_model():
    offending = {
        str(p.relative_to(REPO_ROOT)): sorted(r for r in refs(p) if r.startswith("stg_"))
        for p in model_files("staging")
    }
    offending = {k: v for k, v in offending.items() if v}
    assert not offending, f"a staging model reads its own base_ chain only: {offending}"


def test_intermediate_reads_no_mart_and_no_ml_model():
    offending = {
        str(p.relative_to(REPO_ROOT)): sorted(
            r for r in refs(p) if MART.match(r) or r.startswith("ml_")
        )
        for p in model_files("intermediate")
    }
    offending = {k: v for k, v in offending.items() if v}
    assert not offending, f"intermediate reads staging and intermediate only: {offending}"


@pytest.mark.parametrize(
    "inversion, caught",
    [
        ("from {{ source('shop', 'contacts') }}", lambda t: bool(SOURCE.search(t))),
        (
            "from {{ ref('stg_shop__orders') }} as orders",
            lambda t: "stg_shop__orders" in REF.findall(t),
        ),
        (
            "from {{ ref('fct_customer_snapshots') }}",
            lambda t: any(MART.match(r) for r in REF.findall(t)),
        ),
        (
            'dbt.ref("fct_customer_snapshots").df()',
            lambda t: any(MART.match(r) for r in REF.findall(t)),
        ),
    ],
)
def test_rules_catch_the_inversions_they_were_written_for(inversion, caught):
    assert caught(inversion)
