"""The vectorised reason texts (retention.churn.scoring.ranked_reasons) give, word for
word, what the per-customer loop they replaced gave (tests/fixtures/churn_reasons)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reason_fixtures import full_rows, sparse_rows
from retention.churn.scoring import ranked_reasons, reason_text

EXPECTED = Path(__file__).parents[1] / "fixtures" / "churn_reasons" / "expected.csv"


def expected(case: str) -> pd.DataFrame:
    table = pd.read_csv(EXPECTED, dtype=str, keep_default_na=False)
    table = table[table["case"] == case].drop(columns="case").reset_index(drop=True)
    return table.astype(object).where(table != "", None)


def cases() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    full, full_contrib = full_rows()
    sparse, sparse_contrib = sparse_rows()
    return {
        "full": (full, full_contrib),
        "sparse": (sparse, sparse_contrib),
        "two_families": (sparse, sparse_contrib[["recency", "purchase_frequency"]]),
    }


@pytest.mark.parametrize("case", ["full", "sparse", "two_families"])
def test_reasons_match_the_per_customer_loop(case):
    rows, contrib = cases()[case]
    got = pd.DataFrame({"customer_id": rows["customer_id"], **ranked_reasons(rows, contrib, 3)})
    want = expected(case)
    assert list(got.columns) == list(want.columns)
    for column in want.columns:
        mismatch = [
            (i, a, b)
            for i, (a, b) in enumerate(zip(got[column], want[column], strict=True))
            if (a if isinstance(a, str) else None) != (b if isinstance(b, str) else None)
        ]
        assert mismatch == [], f"{column}: {mismatch[:5]}"


def test_the_fixtures_reach_every_branch():
    """The expected table holds every wording the texts have, missing values included."""
    texts = set()
    for case in ("full", "sparse", "two_families"):
        table = expected(case)
        for k in (1, 2, 3):
            texts |= set(table[f"reason_{k}"].dropna())
    prefixes = [
        "no order for", "usually orders every", "no activity for unknown", "down from",
        "only 1 order so far", "orders so far", "few purchases", "no visit for",
        "visits in the last 30", "low site engagement", "abandoned", "browses without",
        "used a discount", "discount-driven", "returned", "returns or cancels", "spends",
        "spend unknown", "customer for unknown", "buys from 1 category", "categories",
        "narrow interests", "(BG/NBD", "have stopped", "acquired via nan",
        "acquired via unknown", "other signals",
    ]  # fmt: skip
    assert [p for p in prefixes if not any(p in t for t in texts)] == []
    assert "spends 1,234,567.89 per order" in texts  # the thousands separator


def test_one_customer_reads_like_the_batch():
    rows, contrib = full_rows(n=60)
    batch = ranked_reasons(rows, contrib, 3)
    for i in range(len(rows)):
        family = batch["reason_1_family"][i]
        if family is not None:
            assert reason_text(family, rows.iloc[i]) == batch["reason_1"][i]


def test_no_families_no_reasons():
    rows, contrib = sparse_rows(n=5)
    reasons = ranked_reasons(rows, contrib.iloc[:, :0], 2)
    assert reasons == {
        "reason_1": [None] * 5,
        "reason_1_family": [None] * 5,
        "reason_2": [None] * 5,
        "reason_2_family": [None] * 5,
    }


def test_percentages_round_as_str_format_does():
    import numpy as np

    from retention.churn.scoring import _percent

    rng = np.random.default_rng(0)
    edges = [np.nan, np.inf, -np.inf, -0.0, 0.0, -0.004, 0.005, 0.015, 0.025, 0.125, 0.995]
    values = np.concatenate([rng.uniform(-1, 2, 20_000), np.arange(0, 1.0001, 0.0001), edges])
    want = [f"{v:.0%}" for v in values]
    assert list(_percent(values)) == want
