"""Snapshot rows and contribution matrices that reach every branch of the reason texts
(retention.churn.scoring): missing values, zeros, halves that round to even, equal
contributions (ties), contributions at the 0.005 threshold, missing columns.

tests/fixtures/churn_reasons/expected.csv holds the reasons the per-customer loop that
shipped before the vectorised version gave for these inputs (its code is in
tests/fixtures/churn_reasons/README.md), so the vectorised texts are checked against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention.churn.scoring import FAMILIES

NAN = np.nan
# Each column draws from values at the edges of its reason's branches.
POOLS: dict[str, list] = {
    "days_since_last_order": [NAN, 0.0, 2.5, 3.5, 94.0, 94.49, 1234.5, 7.0],
    "order_gap_mean_days": [NAN, 0.0, -3.0, 0.4, 30.2, 12.5],
    "days_since_last_activity": [NAN, 0.0, 4.5, 45.0],
    "orders_count": [NAN, 0.0, 1.0, 1.5, 2.0, 17.0],
    "orders_90d": [NAN, 0.0, 1.0, 2.0, 3.9],
    "orders_prev_90d": [NAN, 0.0, 1.0, 4.0, 2.0],
    "days_since_last_session": [NAN, 0.0, 7.0, 7.5, 8.0, 60.5],
    "sessions_30d": [NAN, 0.0, 1.0, 12.0, 2.7],
    "cart_abandonment_rate_30d": [NAN, 0.0, 0.005, 0.125, 0.995, 1.0],
    "cart_abandonment_rate_90d": [0.5, NAN],  # never read: the first such column is
    "discounted_order_rate": [NAN, 0.0, 0.015, 0.5, 1.0],
    "return_rate": [NAN, 0.0, 0.025, 0.333, 1.0],
    "avg_order_value": [NAN, 0.0, 0.005, 12.345, 1234567.891, 99.995],
    "days_since_first_order": [NAN, 0.0, 0.5, 1.5, 400.0],
    "category_count": [NAN, 0.0, 1.0, 2.0, 1.5],
    "btyd_p_no_purchase": [NAN, 0.0, 0.005, 0.5, 0.9951, 1.0],
    "acquisition_channel": [None, NAN, "social", "paid_search", ""],
}
# Contribution values: ties, the 0.005 threshold from both sides, negatives.
CONTRIBUTIONS = [-0.2, 0.0, 0.005, 0.0050001, 0.004999, 0.01, 0.01, 0.3, 0.3, 0.3]
FAMILY_NAMES = [family for family, _ in FAMILIES] + ["other"]


def full_rows(n: int = 400, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows, contributions): every column the texts read, values mixed at random."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({"customer_id": [f"F{i:04d}" for i in range(n)]})
    for column, pool in POOLS.items():
        values = pd.Series(pool, dtype=object if column == "acquisition_channel" else float)
        rows[column] = values.iloc[rng.integers(0, len(pool), size=n)].to_numpy()
    contributions = pd.DataFrame(
        rng.choice(CONTRIBUTIONS, size=(n, len(FAMILY_NAMES))), columns=FAMILY_NAMES
    )
    # Every family at the top somewhere, and a whole row of ties.
    for i, family in enumerate(FAMILY_NAMES):
        contributions.loc[i, family] = 0.9
    contributions.iloc[len(FAMILY_NAMES)] = 0.3
    contributions.iloc[len(FAMILY_NAMES) + 1] = NAN
    contributions.iloc[len(FAMILY_NAMES) + 2, :3] = NAN
    return rows, contributions


def sparse_rows(n: int = 60, seed: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows, contributions) without most columns (an orders-only source), with nullable
    integer counts. Its first two families alone are fewer than the reasons asked for."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "customer_id": [f"S{i:03d}" for i in range(n)],
            "days_since_last_order": rng.choice([NAN, 3.0, 10.5, 200.0], size=n),
            "orders_count": pd.array(rng.choice([0, 1, 2, 5], size=n), dtype="Int64"),
            "category_count": pd.array(rng.choice([1, 3], size=n), dtype="Int64"),
        }
    )
    rows.loc[rows.index % 7 == 0, ["orders_count", "category_count"]] = pd.NA
    families = ["recency", "purchase_frequency", "categories", "profile", "engagement", "funnel"]
    families += ["tenure"]
    contributions = pd.DataFrame(
        rng.choice(CONTRIBUTIONS, size=(n, len(families))), columns=families
    )
    return rows, contributions
