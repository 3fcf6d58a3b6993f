"""Evaluation metrics for churn scores (churn = positive class).

Everything the registry and the benchmarks report comes from here, so the
dbt models, the CDNOW benchmark and the tests agree on definitions:

- ECE: expected calibration error over 10 equal-width probability bins,
  weighted by bin size.
- lift@10%: churn rate among the 10% highest scores over the base rate.
- aggregate error: (sum of predicted probabilities - actual churners) / actual
  churners; how far the predicted number of churners is off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

EPS = 1e-6


def _as_arrays(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_score, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"labels {y.shape} and scores {p.shape} differ in shape")
    if np.isnan(p).any():
        raise ValueError("scores contain NaN")
    return y, p


def expected_calibration_error(y_true, y_prob, n_bins: int = 10) -> float:
    y, p = _as_arrays(y_true, y_prob)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            total += in_bin.mean() * abs(y[in_bin].mean() - p[in_bin].mean())
    return float(total)


def lift_at(y_true, y_score, fraction: float = 0.1) -> float:
    y, s = _as_arrays(y_true, y_score)
    n_top = max(1, round(len(y) * fraction))
    # Stable sort on the negated score: ties keep input order, so results are reproducible.
    top = np.argsort(-s, kind="stable")[:n_top]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def aggregate_error(y_true, y_prob) -> float:
    y, p = _as_arrays(y_true, y_prob)
    actual = y.sum()
    return float((p.sum() - actual) / actual) if actual > 0 else float("nan")


def probability_metrics(y_true, y_prob) -> dict[str, float]:
    """Metrics of a probability: ranking, proper scores, calibration, volume."""
    y, p = _as_arrays(y_true, y_prob)
    clipped = np.clip(p, EPS, 1 - EPS)
    both_classes = 0 < y.sum() < len(y)
    return {
        "n": float(len(y)),
        "base_rate": float(y.mean()),
        "auc": float(skm.roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, p)) if both_classes else float("nan"),
        "log_loss": float(skm.log_loss(y, clipped, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "lift_top_decile": lift_at(y, p, 0.1),
        "aggregate_error": aggregate_error(y, p),
        "mean_prediction": float(p.mean()),
    }


def ranking_metrics(y_true, y_score) -> dict[str, float]:
    """Metrics of a score that is not a probability (e.g. days since last order)."""
    y, s = _as_arrays(y_true, y_score)
    both_classes = 0 < y.sum() < len(y)
    return {
        "n": float(len(y)),
        "base_rate": float(y.mean()),
        "auc": float(skm.roc_auc_score(y, s)) if both_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, s)) if both_classes else float("nan"),
        "lift_top_decile": lift_at(y, s, 0.1),
    }


def threshold_metrics(y_true, y_prob, threshold: float) -> dict[str, float]:
    y, p = _as_arrays(y_true, y_prob)
    predicted = p >= threshold
    tn, fp, fn, tp = skm.confusion_matrix(
        y.astype(int), predicted.astype(int), labels=[0, 1]
    ).ravel()
    return {
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "precision": float(skm.precision_score(y, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y, predicted, zero_division=0)),
        "f1": float(skm.f1_score(y, predicted, zero_division=0)),
        "true_positives": float(tp),
        "false_positives": float(fp),
        "true_negatives": float(tn),
        "false_negatives": float(fn),
    }


def best_f1_threshold(y_true, y_prob) -> float:
    """The threshold that maximises F1 on the given (validation) data."""
    y, p = _as_arrays(y_true, y_prob)
    precision, recall, thresholds = skm.precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, EPS)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def lift_by_decile(y_true, y_score) -> pd.DataFrame:
    """Decile 1 = highest scores. Churn rate, lift and cumulative capture per decile."""
    y, s = _as_arrays(y_true, y_score)
    order = np.argsort(-s, kind="stable")
    deciles = np.empty(len(y), dtype=int)
    deciles[order] = np.arange(len(y)) * 10 // len(y) + 1
    frame = pd.DataFrame({"decile": deciles, "y": y, "score": s})
    grouped = frame.groupby("decile").agg(
        customers=("y", "size"), churners=("y", "sum"), mean_score=("score", "mean")
    )
    grouped["churn_rate"] = grouped["churners"] / grouped["customers"]
    grouped["lift"] = grouped["churn_rate"] / y.mean() if y.mean() > 0 else np.nan
    grouped["cumulative_capture"] = grouped["churners"].cumsum() / max(y.sum(), 1)
    return grouped.reset_index()


def calibration_bins(y_true, y_prob, n_bins: int = 10) -> pd.DataFrame:
    """Equal-width bins: mean predicted against observed churn rate."""
    y, p = _as_arrays(y_true, y_prob)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "y": y, "p": p})
    grouped = frame.groupby("bin").agg(
        customers=("y", "size"), observed_rate=("y", "mean"), mean_predicted=("p", "mean")
    )
    grouped = grouped.reset_index()
    grouped["bin_lower"] = grouped["bin"] / n_bins
    grouped["bin_upper"] = (grouped["bin"] + 1) / n_bins
    return grouped
