"""Which snapshot columns are keys, labels and features."""

from __future__ import annotations

import pandas as pd

KEY_COLUMNS = [
    "snapshot_id",
    "customer_id",
    "cutoff_date",
    "as_of_date",
    "snapshot_number",
    "is_scoring_cutoff",
    "label_window_end_date",
    "is_label_mature",
]
LABEL_COLUMN = "is_churned"
OUTCOME_COLUMNS = [LABEL_COLUMN, "orders_in_horizon", "revenue_in_horizon"]
CATEGORICAL_FEATURES = ["acquisition_channel", "country_code"]
# The row order training works in (time order matters downstream): prepare_snapshots sorts
# by it, and retention.churn.reads.in_training_order reads in it.
TRAINING_ORDER = ["cutoff_date", "customer_id"]
BTYD_FEATURES = ["btyd_p_no_purchase", "btyd_expected_purchases"]


def prepare_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Sort by cutoff then customer (time order matters downstream) and fix dtypes."""
    missing = [c for c in [*KEY_COLUMNS, LABEL_COLUMN] if c not in snapshots.columns]
    if missing:
        raise ValueError(f"snapshot table lacks {missing}; is it fct_customer_snapshots?")
    # A shallow copy: the columns below are replaced, not written into, and pandas' copy on
    # write keeps the caller's frame as it was.
    frame = snapshots.copy(deep=False)
    frame["cutoff_date"] = pd.to_datetime(frame["cutoff_date"])
    frame["label_window_end_date"] = pd.to_datetime(frame["label_window_end_date"])
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"])
    frame = flags_as_numbers(frame)
    if not in_cutoff_customer_order(frame):
        frame = frame.sort_values(TRAINING_ORDER, kind="stable")
    return frame.reset_index(drop=True)


def in_cutoff_customer_order(frame: pd.DataFrame) -> bool:
    """Whether the rows are already sorted by cutoff, then customer id (as training reads
    them: retention.churn.reads.in_training_order)."""
    cutoffs = frame["cutoff_date"].to_numpy()
    if len(cutoffs) < 2:
        return True
    if not (cutoffs[1:] >= cutoffs[:-1]).all():
        return False
    ids = frame["customer_id"].to_numpy()
    same = cutoffs[1:] == cutoffs[:-1]
    return bool((ids[1:][same] >= ids[:-1][same]).all())


def flags_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean feature columns as floats (0/1), in place; keys and the label stay boolean."""
    for column in frame.columns:
        if frame[column].dtype == bool and column not in [*KEY_COLUMNS, LABEL_COLUMN]:
            frame[column] = frame[column].astype(float)
    return frame


def feature_columns(frame: pd.DataFrame, training_rows: pd.DataFrame | None = None):
    """(numeric, categorical) feature names. Constant numeric columns in the
    training rows (e.g. discount features on an orders-only source) are dropped."""
    reference = frame if training_rows is None else training_rows
    excluded = set(KEY_COLUMNS + OUTCOME_COLUMNS + CATEGORICAL_FEATURES)
    numeric = [
        c
        for c in frame.columns
        if c not in excluded
        and pd.api.types.is_numeric_dtype(frame[c])
        and reference[c].nunique(dropna=False) > 1
    ]
    categorical = [c for c in CATEGORICAL_FEATURES if c in frame.columns]
    return numeric, categorical
