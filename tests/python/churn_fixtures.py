"""Synthetic `marts.fct_customer_snapshots` frames with a known generative process.

Each customer makes a first purchase, then buys as a Poisson process (a latent
rate per customer) until an exponential lifetime ends (Pareto/NBD-like;
the mean lifetime depends on the acquisition channel). Features at cutoff c
use purchases strictly before c; the label uses [c, c + horizon) and is null
until that window has closed by as_of_date. The cutoff spine is the one of
int_cutoffs_generated: snapshot 0 is as_of_date (scored, immature), snapshot
n >= 1 is as_of_date - horizon - (n - 1) * every_days (mature).

Churn is therefore predictable from recency and frequency, so a model must
beat the constant baseline, and shuffling the labels must destroy the signal.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import numpy as np
import pandas as pd

AS_OF = pd.Timestamp("2024-07-01")
HORIZON = 90
EVERY = 28
CHANNELS = {"organic": 520.0, "paid_search": 320.0, "referral": 900.0, "social": 200.0}
COUNTRIES = ["DE", "FR", "GB", "NL", "US"]

# The fast recipe most tests use (no PyMC compile, no TensorFlow import).
FAST_CANDIDATES = ("logistic_regression", "hist_gradient_boosting")


def cutoff_spine(
    as_of: pd.Timestamp = AS_OF, n_mature: int = 8, horizon: int = HORIZON, every: int = EVERY
) -> pd.DataFrame:
    numbers = np.arange(n_mature + 1)
    offsets = np.where(numbers == 0, 0, horizon + (numbers - 1) * every)
    cutoffs = pd.DataFrame(
        {
            "cutoff_date": as_of - pd.to_timedelta(offsets, unit="D"),
            "snapshot_number": numbers.astype("int32"),
        }
    )
    cutoffs["as_of_date"] = as_of
    cutoffs["is_scoring_cutoff"] = cutoffs["snapshot_number"] == 0
    cutoffs["label_window_end_date"] = cutoffs["cutoff_date"] + pd.Timedelta(days=horizon)
    cutoffs["is_label_mature"] = cutoffs["label_window_end_date"] <= as_of
    return cutoffs


def simulate_orders(
    n_customers: int,
    seed: int,
    as_of: pd.Timestamp = AS_OF,
    history_days: int = 650,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customers, orders): orders have customer_id, day (int, days since epoch), revenue.

    Only orders before as_of exist, as in a warehouse whose data ends there."""
    rng = np.random.default_rng(seed)
    end = int((as_of - pd.Timestamp(0)).days)
    start = end - history_days
    ids = np.array([f"C{i:05d}" for i in range(n_customers)])
    channel = rng.choice(list(CHANNELS), size=n_customers, p=[0.4, 0.25, 0.15, 0.2])
    country = rng.choice(COUNTRIES, size=n_customers)
    first = rng.integers(start, end - 7, size=n_customers)
    rate = rng.gamma(shape=1.5, scale=1 / 35 / 1.5, size=n_customers)  # purchases per day
    lifetime = rng.exponential(np.array([CHANNELS[c] for c in channel]))
    spend = rng.normal(3.6, 0.4, size=n_customers)
    alive_until = np.minimum(first + lifetime, end)
    n_repeat = rng.poisson(rate * np.maximum(alive_until - first, 0))
    owner = np.repeat(np.arange(n_customers), n_repeat)
    repeat_days = first[owner] + np.floor(
        rng.uniform(0, 1, size=len(owner)) * (alive_until[owner] - first[owner])
    )
    days = np.concatenate([first, repeat_days]).astype(int)
    who = np.concatenate([np.arange(n_customers), owner])
    keep = days < end
    orders = pd.DataFrame(
        {
            "customer_id": ids[who[keep]],
            "day": days[keep],
            "revenue": np.round(np.exp(spend[who[keep]] + rng.normal(0, 0.4, keep.sum())), 2),
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ids, "acquisition_channel": channel, "country_code": country}
    )
    return customers, orders.sort_values(["customer_id", "day"]).reset_index(drop=True)


def _features_at(orders: pd.DataFrame, cutoff_day: int) -> pd.DataFrame:
    before = orders[orders["day"] < cutoff_day].copy()
    before["ago"] = cutoff_day - before["day"]
    g = before.groupby("customer_id")
    out = pd.DataFrame(
        {
            "days_since_last_order": g["ago"].min(),
            "days_since_first_order": g["ago"].max(),
            "orders_count": g.size(),
            "order_days_count": g["day"].nunique(),
            "revenue_total": g["revenue"].sum(),
        }
    )
    for window in (30, 90):
        recent = before["ago"] <= window
        out[f"orders_{window}d"] = recent.groupby(before["customer_id"]).sum()
        out[f"revenue_{window}d"] = (
            (before["revenue"] * recent).groupby(before["customer_id"]).sum()
        )
    previous = (before["ago"] > 90) & (before["ago"] <= 180)
    out["orders_prev_90d"] = previous.groupby(before["customer_id"]).sum()
    purchase_days = before.drop_duplicates(["customer_id", "day"])
    gaps = purchase_days.groupby("customer_id")["day"].diff()
    out["order_gap_mean_days"] = gaps.groupby(purchase_days["customer_id"]).mean()
    out["order_gap_stddev_days"] = gaps.groupby(purchase_days["customer_id"]).std()
    out["avg_order_value"] = out["revenue_total"] / out["orders_count"]
    out["overdue_ratio"] = out["days_since_last_order"] / out["order_gap_mean_days"].where(
        out["order_gap_mean_days"] > 0
    )
    total = out["orders_90d"] + out["orders_prev_90d"]
    out["orders_trend_90d"] = ((out["orders_90d"] - out["orders_prev_90d"]) / total).where(
        total > 0, 0.0
    )
    return out.astype(float)


def _labels_at(orders: pd.DataFrame, cutoff_day: int, horizon: int) -> pd.DataFrame:
    window = orders[(orders["day"] >= cutoff_day) & (orders["day"] < cutoff_day + horizon)]
    g = window.groupby("customer_id")
    return pd.DataFrame({"orders_in_horizon": g.size(), "revenue_in_horizon": g["revenue"].sum()})


def _snapshot_rows(features: pd.DataFrame, labels: pd.DataFrame, cutoff) -> pd.DataFrame:
    """One cutoff's rows: features, the cutoff's spine columns, the label when mature."""
    frame = features.reset_index()
    frame["cutoff_date"] = cutoff.cutoff_date
    frame["as_of_date"] = cutoff.as_of_date
    frame["snapshot_number"] = cutoff.snapshot_number
    frame["is_scoring_cutoff"] = cutoff.is_scoring_cutoff
    frame["label_window_end_date"] = cutoff.label_window_end_date
    frame["is_label_mature"] = cutoff.is_label_mature
    in_horizon = labels["orders_in_horizon"].fillna(0).to_numpy()
    revenue = labels["revenue_in_horizon"].fillna(0).to_numpy()
    mature = bool(cutoff.is_label_mature)
    frame["is_churned"] = pd.array(
        in_horizon == 0 if mature else [pd.NA] * len(frame), dtype="boolean"
    )
    frame["orders_in_horizon"] = pd.array(
        in_horizon.astype(int) if mature else [pd.NA] * len(frame), dtype="Int32"
    )
    frame["revenue_in_horizon"] = revenue if mature else np.nan
    return frame


def snapshots_from_orders(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: pd.Timestamp = AS_OF,
    n_mature: int = 8,
    horizon: int = HORIZON,
    every: int = EVERY,
    categoricals: bool = True,
) -> pd.DataFrame:
    """The fct_customer_snapshots rows (purchase churn) for these orders."""
    epoch = pd.Timestamp(0)
    frames = []
    for cutoff in cutoff_spine(as_of, n_mature, horizon, every).itertuples(index=False):
        day = int((cutoff.cutoff_date - epoch).days)
        features = _features_at(orders, day)
        if not features.empty:
            labels = _labels_at(orders, day, horizon).reindex(features.index)
            frames.append(_snapshot_rows(features, labels, cutoff))
    out = pd.concat(frames, ignore_index=True)
    out["snapshot_id"] = [
        hashlib.md5(f"{c}|{d.date()}".encode()).hexdigest()
        for c, d in zip(out["customer_id"], out["cutoff_date"], strict=True)
    ]
    out["has_purchased"] = True
    if categoricals:
        out = out.merge(customers, on="customer_id", how="left")
    keys = [
        "snapshot_id",
        "customer_id",
        "cutoff_date",
        "as_of_date",
        "snapshot_number",
        "is_scoring_cutoff",
        "label_window_end_date",
        "is_label_mature",
        "is_churned",
        "orders_in_horizon",
        "revenue_in_horizon",
    ]
    static = ["acquisition_channel", "country_code"] if categoricals else []
    features = [c for c in out.columns if c not in keys + static + ["has_purchased"]]
    # Warehouse-like order: by snapshot, then customer.
    out = out.sort_values(["snapshot_number", "customer_id"], kind="stable")
    return out[keys + static + features + ["has_purchased"]].reset_index(drop=True)


def make_snapshots(
    n_customers: int = 1200,
    seed: int = 0,
    as_of: pd.Timestamp = AS_OF,
    n_mature: int = 8,
    horizon: int = HORIZON,
    every: int = EVERY,
    categoricals: bool = True,
) -> pd.DataFrame:
    history_days = horizon + (n_mature - 1) * every + 365
    customers, orders = simulate_orders(n_customers, seed, as_of, history_days)
    return snapshots_from_orders(customers, orders, as_of, n_mature, horizon, every, categoricals)


def shuffle_labels(snapshots: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Permute the outcomes within each mature cutoff: features keep no signal about them."""
    rng = np.random.default_rng(seed)
    out = snapshots.copy()
    outcomes = ["is_churned", "orders_in_horizon", "revenue_in_horizon"]
    for _, index in out[out["is_label_mature"]].groupby("cutoff_date").groups.items():
        permuted = rng.permutation(np.asarray(index))
        out.loc[index, outcomes] = out.loc[permuted, outcomes].to_numpy()
    return out


@contextmanager
def single_threaded():
    """Limit BLAS/OpenMP to one thread: the gradient boosting's OpenMP threads slow
    down by an order of magnitude on a shared, busy 2-core machine."""
    import sklearn.ensemble  # noqa: F401 - loads scikit-learn's OpenMP runtime, so it can be limited
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
