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
  ``date + horizon <= as_of_date`` (the data end of this build). Its outcome is the churn definition applied to the
  customer-day activity: purchase churn = no completed order in ``[date, date + horizon)``;
  activity churn = no order or event in it. Metrics are those of fct_model_evaluation
  (``retention.churn.metrics``). ``psi`` compares the date's scores with the previous
  date of the same source.
- ``feature_drift``: one per snapshot cutoff x feature: PSI of the feature between the
  previous cutoff of fct_customer_snapshots and this one.

PSI (``psi``): bins are the deciles of the reference (earlier) sample (duplicate edges
merged, so a feature with few values gets fewer bins), plus one bin for nulls; each bin's
share is floored at ``PSI_EPSILON`` (1e-4) before ``sum((cur - ref) * ln(cur / ref))``.
"""

from __future__ import annotations

import itertools

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


def outcomes(
    predictions: pd.DataFrame,
    activity_days: pd.DataFrame,
    as_of_date,
    horizon_days: int,
) -> pd.DataFrame:
    """``predictions`` (customer_id, scoring_date, ...) with ``horizon_end_date``,
    ``is_matured`` and ``is_churned`` (null unless matured). ``activity_days``
    (customer_id, activity_date) holds the days that count against churn: completed-order
    days for purchase churn, any activity day for activity churn."""
    frame = predictions.copy()
    frame["scoring_date"] = pd.to_datetime(frame["scoring_date"])
    frame["horizon_end_date"] = frame["scoring_date"] + pd.Timedelta(days=int(horizon_days))
    frame["is_matured"] = frame["horizon_end_date"] <= pd.Timestamp(as_of_date)
    days = activity_days[["customer_id", "activity_date"]].copy()
    days["customer_id"] = days["customer_id"].astype(str)
    days["activity_date"] = pd.to_datetime(days["activity_date"])
    windows = frame.loc[frame["is_matured"], ["customer_id", "scoring_date", "horizon_end_date"]]
    windows = windows.drop_duplicates()
    hits = windows.merge(days, on="customer_id")
    hits = hits[
        (hits["activity_date"] >= hits["scoring_date"])
        & (hits["activity_date"] < hits["horizon_end_date"])
    ]
    retained = hits[["customer_id", "scoring_date"]].drop_duplicates().assign(_retained=True)
    frame["customer_id"] = frame["customer_id"].astype(str)
    flags = frame[["customer_id", "scoring_date"]].merge(
        retained, on=["customer_id", "scoring_date"], how="left"
    )["_retained"]
    churned = ~flags.fillna(False).astype(bool).to_numpy()
    frame["is_churned"] = pd.array(
        np.where(frame["is_matured"].to_numpy(), churned, None), dtype="boolean"
    )
    return frame


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


def performance_rows(
    scored: pd.DataFrame,
    activity_days: pd.DataFrame,
    as_of_date,
    horizon_days: int,
    trained_as_of: dict | None = None,
) -> pd.DataFrame:
    """One row per source x scoring date x model version. ``scored`` has source,
    customer_id, scoring_date, model_version, churn_probability. ``trained_as_of``
    (model_version -> the as_of_date it was trained at) tells whether a production score
    is out of time: a model trained at a later as_of_date (a rebuild with an earlier
    as_of_date keeps the later champion) has seen those outcomes, so it is not judged."""
    trained_as_of = {k: pd.Timestamp(v) for k, v in (trained_as_of or {}).items()}
    if scored.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = outcomes(scored, activity_days, as_of_date, horizon_days)
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


def feature_drift_rows(snapshots: pd.DataFrame, features=DRIFT_FEATURES) -> pd.DataFrame:
    """PSI of each feature between consecutive cutoffs of the snapshot spine."""
    present = [f for f in features if f in snapshots.columns]
    cutoffs = sorted(pd.to_datetime(snapshots["cutoff_date"]).unique())
    by_cutoff = {
        c: g
        for c, g in snapshots.assign(cutoff_date=pd.to_datetime(snapshots["cutoff_date"])).groupby(
            "cutoff_date"
        )
    }
    rows = []
    for previous, cutoff in itertools.pairwise(cutoffs):
        for feature in present:
            rows.append(
                {
                    "monitoring_kind": "feature_drift",
                    "source": "snapshots",
                    "scoring_date": cutoff,
                    "reference_date": previous,
                    "feature_name": feature,
                    "n_scored": len(by_cutoff[cutoff]),
                    "psi": psi(by_cutoff[previous][feature], by_cutoff[cutoff][feature]),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def latest_run_per_cutoff(backtest: pd.DataFrame) -> pd.DataFrame:
    """Reruns with another config validate on the same cutoff: keep the latest run's."""
    if backtest.empty:
        return backtest
    latest = backtest.groupby("cutoff_date")["trained_at"].transform("max")
    return backtest[backtest["trained_at"] == latest]


def model_monitoring(
    scores: pd.DataFrame,
    backtest: pd.DataFrame,
    activity_days: pd.DataFrame,
    snapshots: pd.DataFrame,
    as_of_date,
    horizon_days: int,
    features=DRIFT_FEATURES,
    trained_as_of: dict | None = None,
) -> pd.DataFrame:
    """The fct_model_monitoring rows (see the module doc).

    ``scores``: the production score history (customer_id, as_of_date, model_version,
    churn_probability); ``backtest``: the registry's validation predictions
    (customer_id, cutoff_date, model_version, churn_probability, trained_at)."""
    production = scores.rename(columns={"as_of_date": "scoring_date"}).assign(source="production")
    backtest = latest_run_per_cutoff(backtest).rename(columns={"cutoff_date": "scoring_date"})
    columns = ["source", "customer_id", "scoring_date", "model_version", "churn_probability"]
    scored = pd.concat(
        [production.reindex(columns=columns), backtest.assign(source="backtest")[columns]]
        if not backtest.empty
        else [production.reindex(columns=columns)],
        ignore_index=True,
    )
    scored["customer_id"] = scored["customer_id"].astype(str)
    scored["scoring_date"] = pd.to_datetime(scored["scoring_date"])
    # Only dates up to this build's as_of_date: a later score history (from a build with
    # a later as_of_date) cannot be judged with this build's data.
    scored = scored[scored["scoring_date"] <= pd.Timestamp(as_of_date)]
    performance = performance_rows(scored, activity_days, as_of_date, horizon_days, trained_as_of)
    drift = feature_drift_rows(snapshots, features)
    frames = [f for f in (performance, drift) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    result = pd.concat(frames, ignore_index=True)
    for column in ("scoring_date", "reference_date", "horizon_end_date"):
        result[column] = pd.to_datetime(result[column]).dt.date
    return result.reindex(columns=COLUMNS)
