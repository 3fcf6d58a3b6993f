"""The registry's evaluation tables: one row per model, and the curves behind the charts.

Metrics of a model are the means over the validation origins (selection.py);
the threshold metrics and the curves use its predictions at every origin
pooled. Curves are kept for the shortlist: the chosen recipe, the best recipe
of every learner, and the baselines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention.churn import metrics
from retention.churn.plan import Origin
from retention.churn.selection import shortlist

RANKING_ONLY = "recency_rule"


def _pooled(scores: dict, origins: list[Origin], fits) -> tuple[np.ndarray, np.ndarray]:
    y = np.concatenate([fits.labels(o.date) for o in origins])
    return y, np.concatenate([scores[o.date] for o in origins])


def _curve_rows(model_version: str, name: str, y, score, is_probability: bool) -> list[dict]:
    rows = [
        {
            "model_version": model_version,
            "model_name": name,
            "curve": "lift_by_decile",
            "bucket": int(r.decile),
            "customers": int(r.customers),
            "observed_rate": float(r.churn_rate),
            "mean_predicted": float(r.mean_score),
            "lift": float(r.lift),
            "cumulative_capture": float(r.cumulative_capture),
        }
        for r in metrics.lift_by_decile(y, score).itertuples()
    ]
    if is_probability:
        rows += [
            {
                "model_version": model_version,
                "model_name": name,
                "curve": "calibration",
                "bucket": int(r.bin),
                "customers": int(r.customers),
                "observed_rate": float(r.observed_rate),
                "mean_predicted": float(r.mean_predicted),
                "lift": np.nan,
                "cumulative_capture": np.nan,
            }
            for r in metrics.calibration_bins(y, score).itertuples()
        ]
    return rows


def evaluation_frames(
    model_version: str, selection, origins: list[Origin], fits, threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evaluation: one row per model, curves: for the shortlist)."""
    chosen, predictions = selection.chosen, selection.predictions
    evaluation = selection.summary.copy()
    evaluation.insert(0, "model_version", model_version)
    evaluation["is_chosen"] = evaluation["model_name"].eq(chosen)
    evaluation["is_shortlisted"] = shortlist(evaluation, chosen)
    threshold_rows, curves = [], []
    for row in evaluation.itertuples():
        is_probability = row.model_name != RANKING_ONLY
        scores = predictions.get(row.model_name)
        if scores is None:  # the champion: scored at the latest origin only
            threshold_rows.append({})
            continue
        y, score = _pooled(scores, origins, fits)
        threshold_rows.append(
            metrics.threshold_metrics(y, score, threshold) if is_probability else {}
        )
        if row.is_shortlisted:
            curves += _curve_rows(model_version, row.model_name, y, score, is_probability)
    evaluation = pd.concat(
        [evaluation.reset_index(drop=True), pd.DataFrame(threshold_rows)], axis=1
    )
    return evaluation, pd.DataFrame(curves)
