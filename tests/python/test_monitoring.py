"""Model monitoring logic (retention.churn.monitoring): PSI, outcomes, metrics per date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from retention.churn.monitoring import (
    PSI_EPSILON,
    feature_drift_rows,
    model_monitoring,
    outcomes,
    psi,
)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    assert psi(reference, rng.normal(size=20_000)) < 0.01
    small, large = psi(reference, reference + 0.2), psi(reference, reference + 1.0)
    assert 0.01 < small < large
    assert large > 0.25  # a one-sd shift is a "large" shift by the usual rule of thumb


def test_psi_matches_a_hand_computed_value_with_nulls_and_empty_bins():
    # Reference deciles of 0..9 put each value in its own bin; the current sample has
    # half its mass in one bin, half null: every other bin share is floored at epsilon.
    reference = np.arange(10, dtype=float)
    current = np.array([0.0, 0.0, np.nan, np.nan])
    expected = np.full(11, 0.1)
    expected[10] = PSI_EPSILON  # no nulls in the reference
    actual = np.full(11, PSI_EPSILON)
    actual[0], actual[10] = 0.5, 0.5
    by_hand = float(np.sum((actual - expected) * np.log(actual / expected)))
    assert psi(reference, current) == pytest.approx(by_hand)
    assert np.isnan(psi([], current))


def test_outcomes_use_the_horizon_window_and_only_matured_dates():
    predictions = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "a"],
            "scoring_date": pd.to_datetime(["2024-01-01"] * 3 + ["2024-03-01"]),
        }
    )
    days = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            # a buys inside the window; b on its last day (inside); c on the end date (outside)
            "activity_date": pd.to_datetime(["2024-01-15", "2024-01-30", "2024-01-31"]),
        }
    )
    out = outcomes(predictions, days, as_of_date="2024-02-15", horizon_days=30)
    assert out["is_matured"].tolist() == [True, True, True, False]
    assert out["is_churned"].tolist()[:3] == [False, False, True]
    assert pd.isna(out["is_churned"].iloc[3])  # not matured: unknown, not "retained"


def _history(rng, dates, n=400):
    rows = []
    for date in dates:
        p = rng.uniform(0.05, 0.95, size=n)
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "as_of_date": pd.Timestamp(date),
                    "model_version": f"m-{date}",
                    "churn_probability": p,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_model_monitoring_scores_matured_dates_against_outcomes():
    rng = np.random.default_rng(1)
    scores = _history(rng, ["2024-01-01", "2024-05-01"])
    first = scores[scores["as_of_date"] == "2024-01-01"]
    # Customers buy in the horizon with probability 1 - p: the scores are informative.
    buys = rng.uniform(size=len(first)) > first["churn_probability"].to_numpy()
    days = pd.DataFrame(
        {"customer_id": first["customer_id"][buys], "activity_date": pd.Timestamp("2024-02-01")}
    )
    snapshots = pd.DataFrame(
        {
            "customer_id": ["x"] * 3,
            "cutoff_date": pd.to_datetime(["2024-01-01", "2024-01-29", "2024-02-26"]),
            "orders_count": [1.0, 2.0, 3.0],
        }
    )
    backtest = pd.DataFrame(columns=["customer_id", "cutoff_date", "model_version",
                                     "churn_probability", "trained_at"])  # fmt: skip
    trained = {f"m-{d}": d for d in ["2024-01-01", "2024-05-01"]}
    frame = model_monitoring(
        scores, backtest, days, snapshots, "2024-05-01", horizon_days=90, trained_as_of=trained
    )

    performance = frame[frame["monitoring_kind"] == "performance"].set_index("scoring_date")
    matured = performance.loc[pd.Timestamp("2024-01-01").date()]
    assert matured["is_matured"] and matured["is_out_of_time"]
    assert matured["n_matured"] == len(first)
    y = ~buys
    assert matured["actual_churners"] == y.sum()
    assert matured["auc"] == pytest.approx(roc_auc_score(y, first["churn_probability"]))
    assert matured["auc"] > 0.6
    assert pd.isna(matured["psi"])  # nothing earlier to compare with
    latest = performance.loc[pd.Timestamp("2024-05-01").date()]
    assert not latest["is_matured"] and latest["n_matured"] == 0 and pd.isna(latest["auc"])
    assert latest["reference_date"] == pd.Timestamp("2024-01-01").date()
    assert latest["psi"] < 0.1  # same uniform distribution
    drift = frame[frame["monitoring_kind"] == "feature_drift"]
    assert len(drift) == 2 and set(drift["feature_name"]) == {"orders_count"}


def test_scores_after_the_as_of_date_are_not_judged():
    rng = np.random.default_rng(2)
    scores = _history(rng, ["2024-01-01", "2024-06-01"])
    empty = pd.DataFrame(columns=["customer_id", "activity_date"])
    snapshots = pd.DataFrame(columns=["customer_id", "cutoff_date"])
    backtest = pd.DataFrame(columns=["customer_id", "cutoff_date", "model_version",
                                     "churn_probability", "trained_at"])  # fmt: skip
    frame = model_monitoring(scores, backtest, empty, snapshots, "2024-03-01", horizon_days=90)
    assert frame["scoring_date"].tolist() == [pd.Timestamp("2024-01-01").date()]


def test_feature_drift_flags_a_shifted_feature():
    rng = np.random.default_rng(3)
    frames = []
    for i, cutoff in enumerate(pd.to_datetime(["2024-01-01", "2024-01-29"])):
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": np.arange(1000).astype(str),
                    "cutoff_date": cutoff,
                    "orders_count": rng.poisson(3, 1000).astype(float),
                    "revenue_total": rng.gamma(2, 50 * (1 + 2 * i), 1000),
                }
            )
        )
    drift = feature_drift_rows(pd.concat(frames)).set_index("feature_name")["psi"]
    assert drift["orders_count"] < 0.1 < 0.25 < drift["revenue_total"]


def test_a_score_from_a_model_trained_later_is_not_judged():
    """A rebuild with an earlier as_of_date keeps the later champion: its scores of the
    earlier date saw the outcomes in training, so they get no metrics."""
    rng = np.random.default_rng(4)
    scores = _history(rng, ["2024-01-01"])
    days = pd.DataFrame({"customer_id": ["c1"], "activity_date": pd.Timestamp("2024-01-10")})
    snapshots = pd.DataFrame(columns=["customer_id", "cutoff_date"])
    backtest = pd.DataFrame(columns=["customer_id", "cutoff_date", "model_version",
                                     "churn_probability", "trained_at"])  # fmt: skip
    frame = model_monitoring(
        scores, backtest, days, snapshots, "2024-06-01", horizon_days=90,
        trained_as_of={"m-2024-01-01": "2024-06-01"},
    )  # fmt: skip
    row = frame.iloc[0]
    assert row["is_matured"] and not row["is_out_of_time"]
    assert row["n_matured"] == 400 and pd.isna(row["auc"]) and pd.isna(row["actual_churners"])


def test_rescoring_a_date_replaces_its_scores_in_the_history(tmp_path):
    """The production history is one set of scores per as_of_date: a rebuild with the
    same as_of_date replaces it (never duplicates), other dates are kept."""
    from retention.churn.registry import Registry

    registry = Registry(tmp_path)
    first = _history(np.random.default_rng(5), ["2024-01-01", "2024-02-01"], n=10)
    registry.save_scores(first)
    again = _history(np.random.default_rng(6), ["2024-02-01"], n=7)
    registry.save_scores(again)
    history = registry.score_history()
    assert history.groupby("as_of_date").size().to_dict() == {
        pd.Timestamp("2024-01-01"): 10,
        pd.Timestamp("2024-02-01"): 7,
    }
    assert set(history["model_version"]) == {"m-2024-01-01", "m-2024-02-01"}
