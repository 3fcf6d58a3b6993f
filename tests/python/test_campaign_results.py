"""Past campaigns measured against their control groups (issue 18, fct_campaign_results).

A generated shop with randomized campaigns (`retention generate --campaigns`) knows each
contact's potential outcomes (ground_truth/contacts_truth). The build's experiment spine must
find the same outcomes, and each campaign's measured effect (treated - control) must hold
the campaign's true average effect inside its 95% interval.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate

pytestmark = pytest.mark.integration  # a dbt build

ORDERS_AND_CONTACTS = {
    "enable_contacts": True,
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}


def _truth(raw) -> pd.DataFrame:
    """The generator's contacts_truth (a folder of Parquet parts, or one CSV)."""
    parts = sorted((raw / "ground_truth").glob("contacts_truth/*.parquet"))
    if parts:
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    return pd.read_csv(raw / "ground_truth" / "contacts_truth.csv")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    raw = tmp_path_factory.mktemp("campaigns_raw")
    generate(
        GeneratorConfig(
            customers=4000, seed=7, out=raw, format="csv", start=dt.date(2023, 1, 1),
            end=dt.date(2024, 12, 31), events_scale=0.05, defect_rate=0.0, campaigns=4, quiet=True,
        )
    )  # fmt: skip
    db = raw.parent / "campaigns.duckdb"
    run_dbt(
        ["build", "--select", "+fct_campaign_results", "--exclude", "test_type:unit",
         "--indirect-selection", "cautious"],
        db, dbt_vars={"raw_path": str(raw), **ORDERS_AND_CONTACTS},
    )  # fmt: skip
    return raw, db, _truth(raw)


def _frame(db, sql: str) -> pd.DataFrame:
    rows = query(db, sql)
    return pd.DataFrame(rows)


def test_the_spine_finds_the_generated_outcomes(built):
    """Per contact row, the build's outcome is the simulation's (completed orders only: the
    simulation's purchases that became cancelled or returned orders are the known gap)."""
    _raw, db, truth = built
    spine = _frame(
        db,
        "select contact_id, is_retained from intermediate.int_contacts_outcomes"
        " where is_outcome_mature",
    )
    spine.columns = ["contact_id", "is_retained"]
    joined = spine.merge(truth[["contact_id", "retained"]], on="contact_id", how="inner")
    assert len(joined) == len(spine) > 1000, "every mature contact is in the ground truth"
    agree = (joined["is_retained"].astype(int) == joined["retained"].astype(int)).mean()
    assert agree > 0.95, agree
    # never retained by the build without a purchase in the simulation
    assert not ((joined["is_retained"] == 1) & (joined["retained"].astype(int) == 0)).any()


def test_each_campaign_recovers_its_true_average_effect(built):
    _raw, db, truth = built
    results = _frame(
        db,
        "select campaign_id, offer_type, retention_effect, retention_effect_ci_low,"
        " retention_effect_ci_high from marts.fct_campaign_results where recency_band = 'all'",
    )
    results.columns = ["campaign_id", "offer_type", "effect", "low", "high"]
    assert len(results) >= 4, results
    misses = []
    for row in results.itertuples():
        rows = truth[truth["campaign_id"] == row.campaign_id]
        true_effect = (
            rows[f"retained_if_{row.offer_type}"].astype(float)
            - rows["retained_if_control"].astype(float)
        ).mean()
        if not row.low <= true_effect <= row.high:
            misses.append((row.campaign_id, row.offer_type, row.low, true_effect, row.high))
    assert not misses, misses


def test_bands_show_the_heterogeneity(built):
    """The generator's persuadables are lapsing and its sleeping dogs recent: the bands'
    measured effects must have those signs when pooled over campaigns."""
    _raw, db, _truth = built
    pooled = dict(
        query(
            db,
            "select recency_band, sum(retention_effect * treated_customers)"
            " / sum(treated_customers) from marts.fct_campaign_results"
            " where offer_type = 'discount' group by recency_band",
        )
    )
    assert pooled["lapsing"] > 0.02, pooled
    assert pooled["recent"] < 0, pooled
