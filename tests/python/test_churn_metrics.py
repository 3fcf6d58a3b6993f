"""Evaluation metrics (retention.churn.metrics) against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from retention.churn import metrics


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from known probabilities: a noisy but informative score."""
    rng = np.random.default_rng(11)
    p = rng.beta(2, 3, size=2000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    return y, p


def test_probability_metrics_hand_computed():
    """Four customers, two churners. By score: 0.8 (churned), 0.4 (stayed), 0.35 (churned),
    0.1 (stayed). Every number below is worked out by hand from those four rows."""
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    result = metrics.probability_metrics(y, p)
    assert result["n"] == 4 and result["base_rate"] == 0.5
    # Of the 4 (churner, stayer) pairs, the churner scores higher in 3.
    assert result["auc"] == pytest.approx(3 / 4)
    # Average precision: recall 1/2 at precision 1/1 (0.8), recall 2/2 at precision 2/3 (0.35).
    assert result["pr_auc"] == pytest.approx(1 / 2 * 1 + 1 / 2 * 2 / 3)
    # -(ln(1 - 0.1) + ln(1 - 0.4) + ln 0.35 + ln 0.8) / 4
    log_loss = -(np.log(0.9) + np.log(0.6) + np.log(0.35) + np.log(0.8)) / 4
    assert result["log_loss"] == pytest.approx(log_loss, abs=1e-6)
    # ((0.1)^2 + (0.4)^2 + (0.65)^2 + (0.2)^2) / 4
    assert result["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    # One row per bin (1, 4, 3, 8): the mean |outcome - score|.
    assert result["ece"] == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)
    # The top 10% of 4 rows is the 0.8 churner: churn rate 1 over a base rate of 1/2.
    assert result["lift_top_decile"] == pytest.approx(2.0)
    # 1.65 churners predicted for 2 actual.
    assert result["mean_prediction"] == pytest.approx(1.65 / 4)
    assert result["aggregate_error"] == pytest.approx((1.65 - 2) / 2)


def test_a_calibrated_informative_score_scores_as_one(scored):
    """Labels drawn from the scores themselves: the score ranks and is calibrated."""
    y, p = scored
    result = metrics.probability_metrics(y, p)
    assert 0.6 < result["auc"] < 0.9
    assert result["ece"] < 0.05
    assert abs(result["aggregate_error"]) < 0.05


def test_log_loss_is_finite_for_confident_mistakes():
    result = metrics.probability_metrics([0, 1, 1, 0], [1.0, 0.0, 1.0, 0.0])
    assert np.isfinite(result["log_loss"])
    assert result["log_loss"] == pytest.approx(-np.log(metrics.EPS) / 2, rel=1e-3)


def test_single_class_gives_nan_auc_not_an_error():
    result = metrics.probability_metrics([1, 1, 1], [0.2, 0.5, 0.9])
    assert np.isnan(result["auc"]) and np.isnan(result["pr_auc"])
    assert result["base_rate"] == 1.0


def test_ranking_metrics_agree_with_sklearn(scored):
    y, p = scored
    days = 1000 * p + 3  # any monotone score ranks the same way
    result = metrics.ranking_metrics(y, days)
    assert result["auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert result["lift_top_decile"] == pytest.approx(metrics.lift_at(y, p, 0.1))


def test_ece_is_zero_for_perfectly_calibrated_bins():
    # Each bin's mean prediction equals its observed churn rate (bins 0, 2, 7 and 9).
    y = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1])
    p = np.array([0.0] * 4 + [0.25] * 4 + [0.75] * 4 + [1.0] * 2)
    assert metrics.expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)


def test_ece_hand_computed():
    # Bin 1 (0.1-0.2): 4 rows, mean p 0.15, churn rate 0.25 -> |0.10| x 4/6.
    # Bin 9 (0.9-1.0, 1.0 included): 2 rows, mean p 0.95, rate 0.5 -> |0.45| x 2/6.
    y = [0, 0, 0, 1, 1, 0]
    p = [0.15, 0.15, 0.15, 0.15, 0.9, 1.0]
    expected = 4 / 6 * 0.10 + 2 / 6 * 0.45
    assert metrics.expected_calibration_error(y, p) == pytest.approx(expected, abs=1e-12)
    assert metrics.probability_metrics(y, p)["ece"] == pytest.approx(expected, abs=1e-12)


def test_lift_at_ten_percent_hand_computed():
    # 20 customers, 5 churners (base rate 0.25); the 2 highest scores hold 1 churner.
    y = np.zeros(20)
    y[[0, 5, 6, 7, 8]] = 1
    score = np.linspace(0.0, 0.5, 20)
    score[0], score[1] = 0.99, 0.98  # churner, non-churner on top
    assert metrics.lift_at(y, score, 0.1) == pytest.approx((1 / 2) / 0.25)
    # Ties keep input order (stable): all-equal scores take the first 2 rows.
    assert metrics.lift_at(y, np.ones(20), 0.1) == pytest.approx((1 / 2) / 0.25)
    assert np.isnan(metrics.lift_at(np.zeros(20), score, 0.1))


def test_aggregate_error_sign_and_value():
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    too_many = [0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2]  # 5.0 predicted vs 4 actual
    too_few = [0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]  # 3.0 predicted vs 4 actual
    assert metrics.aggregate_error(y, too_many) == pytest.approx(0.25)
    assert metrics.aggregate_error(y, too_few) == pytest.approx(-0.25)
    assert metrics.aggregate_error(y, [0.5] * 8) == pytest.approx(0.0)
    assert np.isnan(metrics.aggregate_error([0, 0], [0.1, 0.2]))


def test_lift_by_decile_accounts_for_everyone(scored):
    y, p = scored[0][:1003], scored[1][:1003]  # not a multiple of 10
    table = metrics.lift_by_decile(y, p)
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["customers"].sum() == len(y)
    assert table["customers"].max() - table["customers"].min() <= 1
    assert table["churners"].sum() == y.sum()
    assert table["cumulative_capture"].iloc[-1] == pytest.approx(1.0)
    assert table["cumulative_capture"].is_monotonic_increasing
    assert table["mean_score"].is_monotonic_decreasing  # decile 1 = highest scores
    assert table["lift"].iloc[0] == pytest.approx(metrics.lift_at(y, p, 0.1), rel=0.02)


def test_lift_by_decile_perfect_ranking():
    y = np.array([1] * 10 + [0] * 90)
    table = metrics.lift_by_decile(y, -np.arange(100.0))
    assert table.loc[0, "churn_rate"] == 1.0
    assert table.loc[0, "lift"] == pytest.approx(10.0)
    assert table.loc[0, "cumulative_capture"] == 1.0
    assert (table["churners"].iloc[1:] == 0).all()


def test_calibration_bins_hand_computed():
    y = [0, 1, 0, 1, 1]
    p = [0.05, 0.15, 0.15, 0.95, 1.0]
    table = metrics.calibration_bins(y, p)
    expected = pd.DataFrame(
        {
            "bin": [0, 1, 9],
            "customers": [1, 2, 2],
            "observed_rate": [0.0, 0.5, 1.0],
            "mean_predicted": [0.05, 0.15, 0.975],
            "bin_lower": [0.0, 0.1, 0.9],
            "bin_upper": [0.1, 0.2, 1.0],
        }
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_best_f1_threshold_maximises_f1(scored):
    y, p = scored
    p = np.round(p, 3)  # ties, as real scores have
    best = metrics.best_f1_threshold(y, p)
    thresholds = np.unique(p)
    predicted = p[None, :] >= thresholds[:, None]  # one row per candidate threshold
    tp = (predicted & (y == 1)).sum(axis=1)
    f1 = 2 * tp / (predicted.sum(axis=1) + y.sum())  # F1 = 2TP / (2TP + FP + FN)
    assert best in thresholds
    best_f1 = skm.f1_score(y, p >= best)
    assert best_f1 == pytest.approx(f1.max(), abs=1e-12)
    assert metrics.threshold_metrics(y, p, best)["f1"] == pytest.approx(best_f1)


def test_threshold_metrics_counts():
    y = [1, 1, 0, 0, 1]
    p = [0.9, 0.4, 0.6, 0.1, 0.5]
    result = metrics.threshold_metrics(y, p, 0.5)  # predicted churn: rows 0, 2, 4
    assert (
        result["true_positives"],
        result["false_positives"],
        result["true_negatives"],
        result["false_negatives"],
    ) == (2, 1, 1, 1)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["accuracy"] == pytest.approx(3 / 5)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.probability_metrics([0, 1], [0.5])
    with pytest.raises(ValueError, match="NaN"):
        metrics.probability_metrics([0, 1], [0.5, np.nan])
