"""Model monitoring logic (retention.churn.monitoring): PSI, metrics per date, drift.

The outcomes themselves are labelled in SQL (ml_churn_outcomes, with the training label's
rule); its window boundaries and the dates it leaves out are its dbt unit test's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from retention.churn.monitoring import (
    BACKTEST_PREDICTION_COLUMNS,
    PSI_EPSILON,
    backtest_predictions,
    feature_drift_rows,
    model_monitoring,
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


def _outcomes(scores, as_of, churned=frozenset(), horizon_days=90):
    """ml_churn_outcomes rows for a production score history: matured when the horizon
    has passed by ``as_of``; churned for the customers in ``churned``."""
    frame = scores.rename(columns={"as_of_date": "scoring_date"}).assign(source="production")
    frame["horizon_end_date"] = frame["scoring_date"] + pd.Timedelta(days=horizon_days)
    frame["is_matured"] = frame["horizon_end_date"] <= pd.Timestamp(as_of)
    is_churned = frame["customer_id"].isin(churned).astype("boolean")
    frame["is_churned"] = is_churned.where(frame["is_matured"], pd.NA)
    return frame


NO_SNAPSHOTS = pd.DataFrame(columns=["customer_id", "cutoff_date"])


def test_model_monitoring_scores_matured_dates_against_outcomes():
    rng = np.random.default_rng(1)
    scores = _history(rng, ["2024-01-01", "2024-05-01"])
    first = scores[scores["as_of_date"] == "2024-01-01"]
    # Customers buy in the horizon with probability 1 - p: the scores are informative.
    buys = rng.uniform(size=len(first)) > first["churn_probability"].to_numpy()
    outcomes = _outcomes(scores, "2024-05-01", churned=set(first["customer_id"][~buys]))
    snapshots = pd.DataFrame(
        {
            "customer_id": ["x"] * 3,
            "cutoff_date": pd.to_datetime(["2024-01-01", "2024-01-29", "2024-02-26"]),
            "orders_count": [1.0, 2.0, 3.0],
        }
    )
    trained = {f"m-{d}": d for d in ["2024-01-01", "2024-05-01"]}
    frame = model_monitoring(outcomes, snapshots, trained_as_of=trained)

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
    outcomes = _outcomes(scores, "2024-06-01", churned={"c2", "c3"})
    frame = model_monitoring(outcomes, NO_SNAPSHOTS, trained_as_of={"m-2024-01-01": "2024-06-01"})
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


def test_backtest_predictions_keep_the_latest_run_per_cutoff_and_are_typed_when_empty(tmp_path):
    """What ml_churn_backtest_predictions hands to the SQL: the same columns and types
    whether or not any run kept validation predictions."""
    from retention.churn.registry import Registry

    class TwoRuns(Registry):
        def backtest_predictions(self):
            rows = {
                "customer_id": ["a", "a", "b"],
                "cutoff_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
                "model_version": ["old", "new", "new"],
                "churn_probability": [0.1, 0.2, 0.3],
                "trained_at": pd.to_datetime(["2024-03-01", "2024-04-01", "2024-04-01"]),
            }
            return pd.DataFrame(rows)

    empty = backtest_predictions(Registry(tmp_path / "empty"))
    kept = backtest_predictions(TwoRuns(tmp_path / "two"))
    assert list(empty.columns) == list(kept.columns) == BACKTEST_PREDICTION_COLUMNS
    assert empty.empty and dict(empty.dtypes) == dict(kept.dtypes)
    assert kept["model_version"].tolist() == ["new", "new"]  # the rerun replaced "old"


def test_drift_read_one_cutoff_at_a_time_is_the_whole_frames():
    """run_monitoring reads fct_customer_snapshots a cutoff at a time
    (retention.churn.reads.drift_frames): the same rows as from one frame."""
    from retention.churn import reads

    rng = np.random.default_rng(5)
    cutoffs = pd.to_datetime(["2024-02-26", "2024-01-01", "2024-01-29"])  # out of order
    frame = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(300).astype(str), 3),
            "cutoff_date": np.repeat(cutoffs, 300),
            "orders_count": rng.poisson(3, 900).astype(float),
            "revenue_total": np.where(rng.uniform(size=900) < 0.1, np.nan, rng.gamma(2, 50, 900)),
        }
    ).sample(frac=1.0, random_state=1)
    features = ["revenue_total", "orders_count"]
    by_cutoff = reads.drift_frames(reads.as_relation(frame), features)
    pd.testing.assert_frame_equal(
        feature_drift_rows(by_cutoff, features), feature_drift_rows(frame, features)
    )
    assert len(feature_drift_rows(frame, features)) == 4
