"""Model monitoring: predictions against outcomes once their horizon has passed, and drift.

Two kinds of rows (marts.fct_model_monitoring):

- ``performance``: one per source x scoring date x model version.
    - ``production``: the champion's scores of a past build (the score history kept by
      the registry, one set per as_of_date). The model was trained before that date, so
      the outcomes are out of time.
    - ``backtest``: each run's predictions at its validation cutoff, from the chosen model
      trained only on cutoffs whose label windows had closed by then (purged). Past
      cutoffs are never scored with a later model: that would be in-sample.
  A production date is judged only when the model that scored it was trained at or
  before it (``is_out_of_time``), and only when its horizon has passed:
  ``date + horizon <= as_of_date`` (the data end of this build). The outcomes come from
  ``ml_churn_outcomes`` (SQL), which joins each prediction to its label window with the
  rule that labels the training rows (macros/definitions/churn_label.sql): churn is
  defined once. Metrics are those of fct_model_evaluation
  (``retention.churn.metrics``). ``psi`` compares the date's scores with the previous
  date of the same source.
- ``feature_drift``: one per snapshot cutoff x feature: PSI of the feature between the
  previous cutoff of fct_customer_snapshots and this one.

PSI (``psi``): bins are the deciles of the reference (earlier) sample (duplicate edges
merged, so a feature with few values gets fewer bins), plus one bin for nulls; each bin's
share is floored at ``PSI_EPSILON`` (1e-4) before ``sum((cur - ref) * ln(cur / ref))``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention.churn import metrics

PSI_BINS = 10
PSI_EPSILON = 1e-4
# No feature importance is stored for every model kind (Keras, calibrated pipelines), so
# drift is watched on a fixed list of the features the reasons and the baselines rest on:
# recency, frequency, monetary value and regularity, plus activity when events exist.
DRIFT_FEATURES = (
    "days_since_last_order",
    "days_since_last_activity",
    "orders_count",
    "revenue_total",
    "avg_order_value",
    "order_gap_mean_days",
)
PERFORMANCE_METRICS = ["auc", "log_loss", "brier", "ece", "aggregate_error"]
COLUMNS = [
    "monitoring_kind",
    "source",
    "model_version",
    "scoring_date",
    "reference_date",
    "horizon_end_date",
    "is_matured",
    "is_out_of_time",
    "feature_name",
    "n_scored",
    "n_matured",
    "actual_churners",
    "predicted_churners",
    "observed_churn_rate",
    "mean_predicted",
    *PERFORMANCE_METRICS,
    "psi",
]


def psi(reference, current, bins: int = PSI_BINS, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of ``current`` against ``reference`` (see module doc).
    NaN when either sample is empty."""
    ref = pd.to_numeric(pd.Series(reference), errors="coerce").to_numpy(dtype=float)
    cur = pd.to_numeric(pd.Series(current), errors="coerce").to_numpy(dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    ref_values = ref[~np.isnan(ref)]
    edges = (
        np.unique(np.quantile(ref_values, np.linspace(0, 1, bins + 1)[1:-1]))
        if len(ref_values)
        else np.array([])
    )

    def shares(sample: np.ndarray) -> np.ndarray:
        is_null = np.isnan(sample)
        index = np.searchsorted(edges, sample[~is_null], side="right")
        counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
        counts = np.append(counts, is_null.sum())
        return np.maximum(counts / len(sample), epsilon)

    expected, actual = shares(ref), shares(cur)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _performance(group: pd.DataFrame, evaluate: bool) -> dict:
    row = {
        "n_scored": len(group),
        "mean_predicted": float(group["churn_probability"].mean()),
        "predicted_churners": float(group["churn_probability"].sum()),
    }
    matured = group[group["is_matured"]]
    row["n_matured"] = len(matured)
    if len(matured) and evaluate:
        y = matured["is_churned"].astype(float).to_numpy()
        p = matured["churn_probability"].astype(float).to_numpy()
        summary = metrics.probability_metrics(y, p)
        row.update({name: summary[name] for name in PERFORMANCE_METRICS})
        row["actual_churners"] = int(y.sum())
        row["observed_churn_rate"] = float(y.mean())
        # The predicted count over the matured rows only, so it compares with the actual.
        row["predicted_churners"] = float(p.sum())
    return row


def prepare_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """ml_churn_outcomes with pandas types: dates as timestamps, flags as booleans."""
    frame = outcomes.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    for column in ("scoring_date", "horizon_end_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["is_matured"] = frame["is_matured"].astype(bool)
    frame["is_churned"] = frame["is_churned"].astype("boolean")
    frame["churn_probability"] = frame["churn_probability"].astype(float)
    return frame


def performance_rows(outcomes: pd.DataFrame, trained_as_of: dict | None = None) -> pd.DataFrame:
    """One row per source x scoring date x model version. ``outcomes`` (ml_churn_outcomes)
    has source, customer_id, scoring_date, model_version, churn_probability,
    horizon_end_date, is_matured and is_churned (null unless matured). ``trained_as_of``
    (model_version -> the as_of_date it was trained at) tells whether a production score
    is out of time: a model trained at a later as_of_date (a rebuild with an earlier
    as_of_date keeps the later champion) has seen those outcomes, so it is not judged."""
    trained_as_of = {k: pd.Timestamp(v) for k, v in (trained_as_of or {}).items()}
    if outcomes.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = prepare_outcomes(outcomes)
    rows = []
    for (source, version, date), group in frame.groupby(
        ["source", "model_version", "scoring_date"], sort=True
    ):
        trained = trained_as_of.get(version)
        out_of_time = source == "backtest" or (trained is not None and trained <= date)
        rows.append(
            {
                "monitoring_kind": "performance",
                "source": source,
                "model_version": version,
                "scoring_date": date,
                "horizon_end_date": group["horizon_end_date"].iloc[0],
                "is_matured": bool(group["is_matured"].iloc[0]),
                "is_out_of_time": out_of_time,
                "feature_name": "churn_probability",
                **_performance(group, evaluate=out_of_time),
            }
        )
    result = pd.DataFrame(rows)
    # Score drift: against the previous scoring date of the same source.
    result = result.sort_values(["source", "scoring_date"]).reset_index(drop=True)
    result["reference_date"] = result.groupby("source")["scoring_date"].shift(1)
    psis = []
    for _, row in result.iterrows():
        if pd.isna(row["reference_date"]):
            psis.append(float("nan"))
            continue
        reference = frame[
            (frame["source"] == row["source"]) & (frame["scoring_date"] == row["reference_date"])
        ]
        current = frame[
            (frame["source"] == row["source"])
            & (frame["scoring_date"] == row["scoring_date"])
            & (frame["model_version"] == row["model_version"])
        ]
        psis.append(psi(reference["churn_probability"], current["churn_probability"]))
    result["psi"] = psis
    return result.reindex(columns=COLUMNS)


def feature_drift_rows(snapshots, features=DRIFT_FEATURES) -> pd.DataFrame:
    """PSI of each feature between consecutive cutoffs of the snapshot spine.
    ``snapshots``: a frame with cutoff_date and the features, or (cutoff_date, frame)
    pairs in cutoff order, so that a large table is read one cutoff at a time."""
    if isinstance(snapshots, pd.DataFrame):
        present = [f for f in features if f in snapshots.columns]
        dated = snapshots.assign(cutoff_date=pd.to_datetime(snapshots["cutoff_date"]))
        snapshots = iter(dated.groupby("cutoff_date"))  # in cutoff order
    else:
        present = list(features)
    rows = []
    previous = None
    for cutoff, current in snapshots:
        for feature in present if previous is not None else []:
            rows.append(
                {
                    "monitoring_kind": "feature_drift",
                    "source": "snapshots",
                    "scoring_date": cutoff,
                    "reference_date": previous[0],
                    "feature_name": feature,
                    "n_scored": len(current),
                    "psi": psi(previous[1][feature], current[feature]),
                }
            )
        previous = (cutoff, current)
    return pd.DataFrame(rows, columns=COLUMNS)


BACKTEST_PREDICTION_COLUMNS = ["customer_id", "cutoff_date", "model_version", "churn_probability"]


def latest_run_per_cutoff(backtest: pd.DataFrame) -> pd.DataFrame:
    """Reruns with another config validate on the same cutoff: keep the latest run's."""
    if backtest.empty:
        return backtest
    latest = backtest.groupby("cutoff_date")["trained_at"].transform("max")
    return backtest[backtest["trained_at"] == latest]


def backtest_predictions(registry=None) -> pd.DataFrame:
    """The registry's out-of-time validation predictions, the latest run's per cutoff
    (ml_churn_backtest_predictions; ml_churn_outcomes joins them to their outcomes).
    Typed even when empty, so the SQL over it always sees the same columns."""
    from retention.churn.registry import Registry

    registry = registry or Registry()
    frame = latest_run_per_cutoff(registry.backtest_predictions())
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "cutoff_date": pd.to_datetime(frame["cutoff_date"]).astype("datetime64[us]"),
            "model_version": frame["model_version"].astype(str),
            "churn_probability": frame["churn_probability"].astype(float),
        },
        columns=BACKTEST_PREDICTION_COLUMNS,
    ).reset_index(drop=True)


def model_monitoring(
    outcomes: pd.DataFrame,
    snapshots,
    features=DRIFT_FEATURES,
    trained_as_of: dict | None = None,
) -> pd.DataFrame:
    """The fct_model_monitoring rows (see the module doc).

    ``outcomes``: ml_churn_outcomes, every production score and backtest prediction up to
    this build's as_of_date with its outcome; ``snapshots``: fct_customer_snapshots'
    cutoff_date and drift features, or those per cutoff (feature_drift_rows)."""
    performance = performance_rows(outcomes, trained_as_of)
    drift = feature_drift_rows(snapshots, features)
    frames = [f for f in (performance, drift) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    result = pd.concat(frames, ignore_index=True)
    for column in ("scoring_date", "reference_date", "horizon_end_date"):
        result[column] = pd.to_datetime(result[column]).dt.date
    return result.reindex(columns=COLUMNS)
