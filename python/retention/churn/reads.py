"""The rows and columns of fct_customer_snapshots each scoring-side step reads.

The steps that run at as_of_date (scores, customer value) need the as-of rows only, one
per customer, and only some columns; the scores' reference values need the mature rows
of retained customers, a few columns at a time. Reading just that keeps memory bounded
by the batch, not by customers x cutoffs x columns (retention.relations).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from retention.churn.frames import KEY_COLUMNS, LABEL_COLUMN, TRAINING_ORDER, flags_as_numbers
from retention.churn.model import BTYD_INPUTS, ChurnModel
from retention.churn.scoring import REASON_COLUMNS, typical_values
from retention.relations import as_relation, batches, present, quoted, read

__all__ = ["as_relation"]  # the pipeline takes relations or DataFrames through here

# Scores are computed this many customers at a time (rows x ~50 columns, and a copy of
# them per feature family for the reasons): ~0.5 GB at most, whatever the customer count.
SCORING_BATCH_ROWS = 200_000
# The reference values are read a few columns at a time: at most this many values.
REFERENCE_READ_VALUES = 16_000_000
# Training's customer sample is this many hash buckets (a 0.01% grain).
SAMPLE_BUCKETS = 10_000
# What prepare_snapshots() needs of any snapshot frame.
SNAPSHOT_KEYS = [*KEY_COLUMNS, LABEL_COLUMN]
CUSTOMER_VALUE_INPUTS = [*SNAPSHOT_KEYS, *BTYD_INPUTS, "revenue_total"]


def training_rows(snapshots, max_customers: int) -> tuple[pd.DataFrame, int, int]:
    """The snapshot rows training reads: every row when the mart has at most
    ``max_customers`` customers, else every row of a deterministic sample of about that
    many customers (buckets of DuckDB's 64-bit hash of the id, stable for the pinned DuckDB;
    the same customers whatever the row order). Returns (rows, customers read, customers in the mart)."""
    relation = as_relation(snapshots)
    [(customers,)] = relation.aggregate('count(distinct "customer_id")').fetchall()
    if customers <= max_customers:
        # a DataFrame (tests, benchmarks) is used as it is, not copied through DuckDB
        rows = snapshots if isinstance(snapshots, pd.DataFrame) else in_training_order(relation)
        return rows, customers, customers
    buckets = max(1, math.floor(SAMPLE_BUCKETS * max_customers / customers))
    rows = in_training_order(relation.filter(f'hash("customer_id") % {SAMPLE_BUCKETS} < {buckets}'))
    return rows, int(rows["customer_id"].nunique()), customers


def in_training_order(relation) -> pd.DataFrame:
    """The rows as pandas, sorted as prepare_snapshots sorts them (cutoff, then customer id;
    DuckDB compares strings byte by byte, which for UTF-8 is code-point order): DuckDB sorts
    in parallel, and prepare_snapshots then only checks the order instead of sorting every
    column again (~1.5 s at 100k customers, on training's critical path)."""
    return relation.order(quoted(TRAINING_ORDER)).df()


def scoring_columns(snapshots, model: ChurnModel) -> list[str]:
    """The champion's features, what its BTYD part and the reasons read, and the keys."""
    missing = [f for f in model.features if f not in snapshots.columns]
    if missing:
        raise ValueError(
            f"fct_customer_snapshots lacks the champion's features {missing}: retrain "
            "(dbt build runs ml_churn_training) with the current snapshot columns"
        )
    wanted = [*SNAPSHOT_KEYS, *model.features, *BTYD_INPUTS, *REASON_COLUMNS]
    return present(snapshots, wanted, prefixes=("cart_abandonment",))


def scoring_batches(snapshots, model: ChurnModel, batch_rows: int) -> Iterator[pd.DataFrame]:
    """The as-of rows, in customer order, ``batch_rows`` at a time, with the columns
    scoring reads."""
    rows = snapshots.filter("is_scoring_cutoff").project(quoted(scoring_columns(snapshots, model)))
    yield from batches(rows.order('"customer_id"'), batch_rows)


def retained_reference(snapshots, model: ChurnModel, max_values: int = REFERENCE_READ_VALUES):
    """retention.churn.scoring.retained_reference over the mature rows of the relation,
    read a few columns at a time."""
    retained = snapshots.filter("is_label_mature and cast(is_churned as double) = 0")
    rows = int(retained.aggregate("count(*)").fetchall()[0][0])
    step = max(1, max_values // max(rows, 1))
    features = model.features

    def parts() -> Iterator[pd.DataFrame]:
        for start in range(0, len(features), step):
            yield flags_as_numbers(read(retained, features[start : start + step]))

    return typical_values(model, parts())


def buyers_at_as_of(snapshots) -> pd.DataFrame:
    """The as-of rows of customers with a purchase, with the columns BTYD and CLV read."""
    columns = present(snapshots, CUSTOMER_VALUE_INPUTS)
    return read(snapshots, columns, "is_scoring_cutoff and order_days_count >= 1")


def drift_frames(snapshots, features: list[str]) -> Iterator[tuple[pd.Timestamp, pd.DataFrame]]:
    """(cutoff_date, that cutoff's feature columns) in cutoff order, one cutoff read at a
    time (retention.churn.monitoring.feature_drift_rows)."""
    dates = snapshots.project('"cutoff_date"').distinct().fetchall()
    for cutoff in sorted(date for (date,) in dates if date is not None):
        yield pd.Timestamp(cutoff), read(snapshots, features, f"cutoff_date = '{cutoff}'")
