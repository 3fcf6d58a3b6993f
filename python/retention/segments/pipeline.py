"""The functions the dbt Python models call (models/ml/ml_*segment*.py stay one-liners)."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from retention.dbt_logging import forward_to_dbt
from retention.relations import quoted
from retention.segments.features import FEATURE_SPECS
from retention.segments.model import (
    SegmentRun,
    SegmentSettings,
    as_of_rows,
    empty_assignments,
    fit_segments,
    planned_run_id,
)
from retention.segments.store import SegmentStore

log = logging.getLogger("retention.segments")

# Fixed profile columns (every source has them: they derive from orders).
PROFILE_FEATURES = [
    "days_since_last_order",
    "orders_count",
    "revenue_total",
    "avg_order_value",
    "days_since_first_order",
]
PROFILE_COLUMNS = [
    "segment_id",
    "segment_name",
    "description",
    "customers",
    "share_of_customers",
    *[f"mean_{c}" for c in PROFILE_FEATURES],
    "centroid_json",
    "percentiles_json",
    "backtest_cutoff_date",
    "backtest_labelled_customers",
    "backtest_churn_rate",
    "is_matched_to_previous",
    "previous_match_distance",
    "silhouette",
    "k",
    "segment_run_id",
    "as_of_date",
]


INPUT_COLUMNS = list(
    dict.fromkeys(
        [
            "customer_id",
            "as_of_date",
            "cutoff_date",
            "is_scoring_cutoff",
            "is_latest_mature_cutoff",
            "is_churned",
            *[spec.column for spec in FEATURE_SPECS],
            *PROFILE_FEATURES,
        ]
    )
)


def segmentation_rows(snapshots, cutoffs) -> pd.DataFrame:
    """What run_segmentation reads of fct_customer_snapshots (relations, as dbt passes
    them): the as-of rows (segmented) and the latest mature cutoff's (the backtest), as
    the cutoff spine (int_cutoffs_generated) flags them, only INPUT_COLUMNS."""
    spine = cutoffs.filter("is_scoring_cutoff or is_latest_mature_cutoff")
    rows = snapshots.join(spine.project("cutoff_date, is_latest_mature_cutoff"), "cutoff_date")
    return rows.project(quoted([c for c in INPUT_COLUMNS if c in rows.columns])).df()


def empty_profiles() -> pd.DataFrame:
    """No segments, with the column types of a real profile table."""
    types = {c: "float64" for c in PROFILE_COLUMNS}
    types.update(segment_id="int64", customers="int64", k="int64", is_matched_to_previous="bool")
    types.update(backtest_labelled_customers="int64", backtest_cutoff_date="object")
    types.update(
        {
            c: "object"
            for c in (
                "segment_name",
                "description",
                "centroid_json",
                "percentiles_json",
                "segment_run_id",
                "as_of_date",
            )
        }
    )
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in types.items()})[PROFILE_COLUMNS]


def _settings(settings) -> SegmentSettings:
    return (
        settings if isinstance(settings, SegmentSettings) else SegmentSettings.from_config(settings)
    )


def assign_with_stats(run: SegmentRun, frame: pd.DataFrame, batch_size: int):
    """Assign every customer in batches; per-segment sums of the profile
    features accumulate on the way, so memory stays bounded by the batch."""
    features = [c for c in dict.fromkeys(PROFILE_FEATURES + run.features) if c in frame.columns]
    ids = run.segments.segment_ids
    sums = np.zeros((len(ids), len(features)))
    counts = np.zeros((len(ids), len(features)))
    sizes = np.zeros(len(ids), dtype=np.int64)
    position = {segment_id: i for i, segment_id in enumerate(ids)}
    parts = []
    for start in range(0, len(frame), batch_size):
        chunk = frame.iloc[start : start + batch_size]
        assigned = run.assign(chunk, batch_size)
        rows = assigned["segment_id"].map(position).to_numpy()
        values = chunk[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        present = np.isfinite(values)
        np.add.at(sums, rows, np.where(present, values, 0.0))
        np.add.at(counts, rows, present.astype(float))
        sizes += np.bincount(rows, minlength=len(ids))
        parts.append(assigned)
        log.debug("assigned rows %d-%d", start, start + len(chunk))
    assignments = pd.concat(parts, ignore_index=True) if parts else empty_assignments()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    stats = pd.DataFrame(means, columns=features)
    stats.insert(0, "customers", sizes)
    stats.insert(0, "segment_id", ids)
    return assignments, stats


def latest_mature_rows(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The snapshot rows of the latest cutoff whose label window has closed, as the cutoff
    spine flags it (int_cutoffs_generated.is_latest_mature_cutoff, the one definition);
    none when the frame does not carry the flag."""
    if "is_latest_mature_cutoff" not in snapshots.columns or "cutoff_date" not in snapshots.columns:
        return snapshots.iloc[0:0]
    return snapshots[snapshots["is_latest_mature_cutoff"].fillna(False).astype(bool)]


def backtest(run: SegmentRun, mature: pd.DataFrame, batch_size: int) -> pd.DataFrame:
    """Churn by segment at the latest mature cutoff, the customers placed in
    segments by the same centroids from their features at that cutoff: what
    customers with this profile went on to do (comparable with predicted churn;
    no feature overlaps the label window)."""
    columns = [
        "segment_id",
        "backtest_cutoff_date",
        "backtest_labelled_customers",
        "backtest_churn_rate",
    ]
    if mature.empty or "is_churned" not in mature.columns:
        return pd.DataFrame(columns=columns)
    frame = mature.assign(is_scoring_cutoff=True)  # one row per customer, like the as-of rows
    assigned = run.assign(frame, batch_size)
    labels = as_of_rows(frame)["is_churned"]
    assigned["is_churned"] = labels.astype("float").to_numpy()
    labelled = assigned[assigned["is_churned"].notna()]
    grouped = labelled.groupby("segment_id")["is_churned"].agg(["size", "mean"]).reset_index()
    grouped.columns = ["segment_id", "backtest_labelled_customers", "backtest_churn_rate"]
    grouped.insert(1, "backtest_cutoff_date", pd.to_datetime(mature["cutoff_date"]).max().date())
    return grouped[columns]


def build_profiles(
    run: SegmentRun, stats: pd.DataFrame, backtested: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per segment: size, share, mean profile, centroid and match."""
    total = int(stats["customers"].sum())
    centroids = run.centroids_original()
    matched = {r["new_segment_id"]: r for r in run.lineage.matching if r.get("matched")}
    tested = {} if backtested is None else backtested.set_index("segment_id").to_dict("index")
    cutoff = (
        None
        if backtested is None or backtested.empty
        else backtested["backtest_cutoff_date"].iloc[0]
    )
    rows = []
    for i, segment_id in enumerate(run.segments.segment_ids):
        row = stats.iloc[i]
        match = matched.get(segment_id)
        test = tested.get(segment_id, {})
        rows.append(
            {
                "segment_id": int(segment_id),
                "segment_name": run.segments.names[i],
                "description": run.segments.descriptions[i],
                "customers": int(row["customers"]),
                "share_of_customers": float(row["customers"]) / total if total else np.nan,
                **{f"mean_{c}": float(row[c]) if c in row else np.nan for c in PROFILE_FEATURES},
                "centroid_json": json.dumps(
                    {c: round(float(v), 4) for c, v in zip(run.features, centroids[i], strict=True)}
                ),
                "percentiles_json": json.dumps(
                    {r: round(float(v), 4) for r, v in run.segments.percentiles[i].items()}
                ),
                "backtest_cutoff_date": cutoff,
                "backtest_labelled_customers": int(test.get("backtest_labelled_customers", 0)),
                "backtest_churn_rate": float(test.get("backtest_churn_rate", np.nan)),
                "is_matched_to_previous": match is not None,
                "previous_match_distance": float(match["distance"]) if match else np.nan,
                "silhouette": run.silhouette,
                "k": int(run.choice.k),
                "segment_run_id": run.run_id,
                "as_of_date": pd.Timestamp(run.fit.as_of_date).date()
                if run.fit.as_of_date
                else None,
            }
        )
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def run_segmentation(
    snapshots: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    settings: SegmentSettings | dict | None = None,
    store: SegmentStore | None = None,
) -> pd.DataFrame:
    """Fit (building on the previous run), assign every customer, persist the
    run; returns one row per customer (ml_customer_segments).

    `snapshots` needs the as-of rows (is_scoring_cutoff); when it also holds
    the rows of the latest mature cutoff (flagged is_latest_mature_cutoff), the
    profiles carry a backtest: the churn rate of the customers each segment's
    centroid claimed at that cutoff.

    `scores` (ml_churn_scores) is optional: when given, the mean churn
    probability per segment is logged and kept in the run record. The dbt
    model does not pass it, so segments build even when churn training is
    skipped; dim_segments joins the scores in SQL instead."""
    settings = _settings(settings)
    store = store or SegmentStore()
    with forward_to_dbt("retention.segments"), threadpool_limits(settings.threads):
        started = time.perf_counter()
        # Only what segmentation reads: a 1M-customer frame has ~80 columns.
        snapshots = snapshots[[c for c in INPUT_COLUMNS if c in snapshots.columns]]
        frame = as_of_rows(snapshots)
        if frame.empty:
            log.warning("no customers at as_of_date: no segments")
            return empty_assignments()
        previous = store.previous_for(planned_run_id(frame, settings))
        run = fit_segments(frame, settings, previous)
        assignments, stats = assign_with_stats(run, frame, settings.batch_size)
        backtested = backtest(run, latest_mature_rows(snapshots), settings.batch_size)
        if scores is not None and not scores.empty:
            run.extras["mean_churn_probability"] = _mean_churn(assignments, scores)
        profiles = build_profiles(run, stats, backtested)
        store.save(run, profiles)
        _log_run(run, profiles, time.perf_counter() - started)
    return assignments


def _mean_churn(assignments: pd.DataFrame, scores: pd.DataFrame) -> dict[str, float]:
    joined = assignments.merge(scores[["customer_id", "churn_probability"]], on="customer_id")
    churn = joined.groupby("segment_id")["churn_probability"].mean()
    return {str(k): float(v) for k, v in churn.items()}


def _log_run(run: SegmentRun, profiles: pd.DataFrame, seconds: float) -> None:
    """The run, each segment and each match with the previous run, in the build log."""
    log.info(
        "segments %s: k=%d (%s), silhouette %.4f, fitted on %d of %d customers "
        "(init: %s; previous run: %s) in %.1fs",
        run.run_id,
        run.choice.k,
        run.choice.k_reason,
        run.silhouette or float("nan"),
        run.fit.fit_rows,
        run.fit.customers,
        run.choice.init,
        run.lineage.previous_run_id,
        seconds,
    )
    for profile in profiles.itertuples():
        churn = (
            ""
            if np.isnan(profile.backtest_churn_rate)
            else f"; backtest: {profile.backtest_churn_rate:.1%} of its customers at "
            f"{profile.backtest_cutoff_date} churned"
        )
        known = profile.is_matched_to_previous or run.lineage.previous_run_id is None
        log.info(
            "segment %d %-26s %8d customers (%5.1f%%)%s%s",
            profile.segment_id,
            repr(profile.segment_name),
            profile.customers,
            100 * profile.share_of_customers,
            churn,
            "" if known else " [new segment]",
        )
    for row in run.lineage.matching:
        log.info(
            "match: old %s -> new %s (distance %s, matched=%s)",
            row["old_segment_id"],
            row["new_segment_id"],
            row["distance"],
            row["matched"],
        )


def segment_profiles(
    assignments: pd.DataFrame | None = None,
    store: SegmentStore | None = None,
    run_id: str | None = None,
) -> pd.DataFrame:
    """One row per segment of the run that produced `assignments` (or of
    `run_id`, or the latest run). With assignments, sizes and shares are
    recounted from them, so the profile table always agrees with the
    per-customer table."""
    store = store or SegmentStore()
    if assignments is not None and assignments.empty:
        return empty_profiles()
    if assignments is not None:
        run_ids = assignments["segment_run_id"].unique()
        if len(run_ids) != 1:
            raise ValueError(f"assignments mix segment runs {sorted(run_ids)}")
        run_id = run_ids[0]
    run_id = run_id or store.latest_run_id()
    if run_id is None:
        return empty_profiles()
    if not store.exists(run_id):
        raise FileNotFoundError(
            f"segment run {run_id} is not in {store.root} (artefacts removed?); "
            "rebuild ml_customer_segments first"
        )
    profiles = store.load_profiles(run_id)
    if assignments is not None:
        counts = assignments["segment_id"].value_counts()
        profiles["customers"] = profiles["segment_id"].map(counts).fillna(0).astype("int64")
        profiles["share_of_customers"] = profiles["customers"] / len(assignments)
    return profiles[PROFILE_COLUMNS]
