"""The build's definitions, read from where the warehouse decided them.

Each definition has one home in SQL (docs/architecture.md, "Definitions"): the label
horizon is chosen by the ``retention.label_horizon_days()`` macro and stored per cutoff
in ``int_cutoffs_generated.label_horizon_days``. A dbt Python model reads it from there
and hands it to the package, instead of choosing it again from vars or defaulting it.
"""

from __future__ import annotations

import pandas as pd


def label_horizon_days(cutoffs: pd.DataFrame) -> int | None:
    """The build's label horizon in days, from int_cutoffs_generated (``cutoffs``).

    None when the spine is empty (no cutoff has enough history: there is nothing to
    label or score). Raises ValueError when the table holds more than one horizon, which
    only a hand-edited or half-rebuilt table can."""
    if "label_horizon_days" not in cutoffs.columns:
        raise ValueError(
            "int_cutoffs_generated has no label_horizon_days column; rebuild it "
            "(dbt build --select int_cutoffs_generated+)"
        )
    values = pd.to_numeric(cutoffs["label_horizon_days"]).dropna().unique()
    if len(values) == 0:
        return None
    if len(values) > 1:
        raise ValueError(
            f"int_cutoffs_generated holds several label horizons {sorted(values.tolist())}; "
            "rebuild it (dbt build --select int_cutoffs_generated+)"
        )
    return int(values[0])


def snapshot_horizon_days(snapshots: pd.DataFrame) -> int:
    """The label horizon the snapshot rows were labelled with: label_window_end_date -
    cutoff_date, which int_snapshots_labelled sets from the same definition. For callers
    of the package that are not handed the horizon (the build passes int_cutoffs_generated's).

    Raises ValueError when the rows carry no label window or several horizons."""
    if snapshots.empty or not {"cutoff_date", "label_window_end_date"} <= set(snapshots.columns):
        raise ValueError(
            "no label horizon: the snapshots have no rows with cutoff_date and "
            "label_window_end_date; pass horizon_days"
        )
    days = (
        (
            pd.to_datetime(snapshots["label_window_end_date"])
            - pd.to_datetime(snapshots["cutoff_date"])
        )
        .dt.days.dropna()
        .unique()
    )
    if len(days) != 1:
        raise ValueError(f"the snapshots hold several label horizons {sorted(days.tolist())}")
    return int(days[0])
