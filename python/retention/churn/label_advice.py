"""When there are too few labels: which change of vars would give enough, computed.

The cutoff spine (int_cutoffs_generated), purchase eligibility and labels
(fct_customer_snapshots) are recomputed here from the customer-day activity
for alternative settings - one var changed at a time, then pairs - and each
is checked with the same rule training uses (plan.plan_cutoffs): at least one
validation origin with enough labelled rows and rows of each class. The
smallest change that works is named first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from retention.churn.plan import InsufficientLabelsError, plan_cutoffs


@dataclass(frozen=True)
class SpineSettings:
    as_of: pd.Timestamp
    horizon_days: int
    snapshot_every_days: int
    max_training_snapshots: int
    min_history_days: int
    min_labelled_rows: int
    min_class_rows: int
    validation_origins: int = 2


# The var each setting is called in dbt_project.yml, in the order changes are preferred:
# first those that only use more of the data, last those that change what churn means.
VARS = {
    "min_history_days": "min_history_days",
    "snapshot_every_days": "snapshot_every_days",
    "max_training_snapshots": "max_training_snapshots",
    "min_class_rows": "churn_min_class_rows",
    "min_labelled_rows": "churn_min_labelled_rows",
    "horizon_days": "churn_horizon_days",
}


def labelled_rows(order_days: pd.DataFrame, settings: SpineSettings) -> pd.DataFrame:
    """The mature snapshot rows (customer_id, cutoff_date, label_window_end_date,
    is_churned) these settings would give, for purchase churn."""
    first_day = order_days["activity_date"].min()
    days = order_days.sort_values(["customer_id", "activity_date"])
    first_order = days.groupby("customer_id")["activity_date"].min()
    horizon = pd.Timedelta(days=settings.horizon_days)
    frames = []
    for n in range(1, settings.max_training_snapshots + 1):
        cutoff = (
            settings.as_of - horizon - pd.Timedelta(days=(n - 1) * settings.snapshot_every_days)
        )
        if cutoff < first_day + pd.Timedelta(days=settings.min_history_days):
            break
        eligible = first_order.index[first_order < cutoff]
        window = days[
            (days["activity_date"] >= cutoff) & (days["activity_date"] < cutoff + horizon)
        ]
        bought = pd.Index(window["customer_id"].unique())
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": eligible,
                    "cutoff_date": cutoff,
                    "label_window_end_date": cutoff + horizon,
                    "is_churned": ~eligible.isin(bought),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["customer_id", "cutoff_date", "label_window_end_date",
                                     "is_churned"])  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def is_enough(order_days: pd.DataFrame, settings: SpineSettings) -> tuple[bool, int]:
    """(whether training could run, labelled rows of its latest validation origin)."""
    rows = labelled_rows(order_days, settings)

    def problem(frame: pd.DataFrame, what: str) -> str | None:
        y = frame["is_churned"].astype(float)
        churners = int(y.sum())
        if len(y) < settings.min_labelled_rows or min(churners, len(y) - churners) < (
            settings.min_class_rows
        ):
            return what or "too few"
        return None

    try:
        plan = plan_cutoffs(
            rows, settings.as_of, settings.horizon_days, settings.validation_origins, problem
        )
    except InsufficientLabelsError:
        return False, 0
    return True, int((rows["cutoff_date"] == plan.origins[0].date).sum())


def candidate_values(settings: SpineSettings) -> dict[str, list[int]]:
    """Values to try per setting, the closest to the current one first."""
    current = {name: getattr(settings, name) for name in VARS}

    def below(values):
        return sorted({v for v in values if 0 <= v < current_value}, reverse=True)

    out = {}
    for name, values in {
        "min_history_days": (
            current["min_history_days"] * 3 // 4,
            current["min_history_days"] // 2,
            28,
            21,
            14,
            7,
            0,
        ),
        "snapshot_every_days": (21, 14, 7, 3, 1),
        "min_class_rows": (15, 10, 5),
        "min_labelled_rows": (150, 100, 50),
        "horizon_days": (60, 45, 30, 14, 7),
    }.items():
        current_value = current[name]
        out[name] = below(values)
    out["max_training_snapshots"] = [
        v for v in (18, 24, 36, 52) if v > current["max_training_snapshots"]
    ]
    return {name: out[name] for name in VARS}


def advice(order_days: pd.DataFrame, settings: SpineSettings, limit: int = 3) -> str:
    """What to change, in words: for each setting (in order of preference), the closest
    value that would give enough labels; pairs of changes when no single one does."""
    if order_days.empty:
        return "There are no completed orders to learn from."
    values = candidate_values(settings)
    working = []
    for name, tried in values.items():
        for value in tried:
            ok, rows = is_enough(order_days, replace(settings, **{name: value}))
            if ok:
                working.append(({name: value}, rows))
                break
    if not working:
        singles = [{name: v[-1]} for name, v in values.items() if v]
        for i, first in enumerate(singles):
            for second in singles[i + 1 :]:
                ok, rows = is_enough(order_days, replace(settings, **first, **second))
                if ok:
                    working.append(({**first, **second}, rows))
    if not working:
        span = (order_days["activity_date"].max() - order_days["activity_date"].min()).days
        return (
            f"No single or paired change of {', '.join(VARS.values())} gives enough labels: "
            f"the data spans {span} days and {order_days['customer_id'].nunique():,} customers. "
            "Load more history, or set churn_on_insufficient_labels: skip to build without a "
            "model."
        )
    parts = [
        " and ".join(f"{VARS[name]}: {value}" for name, value in change.items())
        + f" ({rows:,} labelled rows at the latest validation origin)"
        for change, rows in working[:limit]
    ]
    also = "; or " + "; or ".join(parts[1:]) if len(parts) > 1 else ""
    return (
        f"Smallest change that works: {parts[0]}{also}. Or set churn_on_insufficient_labels: "
        "skip to build without a model."
    )


def order_days_from_activity(activity: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, activity_date) of the days with a completed order."""
    days = activity[activity["completed_orders"].fillna(0) > 0]
    return pd.DataFrame(
        {
            "customer_id": days["customer_id"].astype(str).to_numpy(),
            "activity_date": pd.to_datetime(days["activity_date"]).to_numpy(),
        }
    ).drop_duplicates()
