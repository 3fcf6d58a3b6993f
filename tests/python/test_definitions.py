"""retention.definitions: the package reads the build's definitions, it does not default them."""

from __future__ import annotations

import pandas as pd
import pytest

from retention.definitions import label_horizon_days, snapshot_horizon_days


def test_label_horizon_is_the_spines_one_value():
    spine = pd.DataFrame({"label_horizon_days": [30, 30, None]})
    assert label_horizon_days(spine) == 30
    assert label_horizon_days(pd.DataFrame({"label_horizon_days": []})) is None
    with pytest.raises(ValueError, match="several label horizons"):
        label_horizon_days(pd.DataFrame({"label_horizon_days": [30, 90]}))
    with pytest.raises(ValueError, match="no label_horizon_days column"):
        label_horizon_days(pd.DataFrame({"cutoff_date": []}))


def test_snapshot_horizon_is_the_label_window_length():
    cutoffs = pd.to_datetime(["2024-01-01", "2024-02-01"])
    rows = pd.DataFrame(
        {"cutoff_date": cutoffs, "label_window_end_date": cutoffs + pd.Timedelta(days=45)}
    )
    assert snapshot_horizon_days(rows) == 45
    rows.loc[1, "label_window_end_date"] = cutoffs[1] + pd.Timedelta(days=90)
    with pytest.raises(ValueError, match="several label horizons"):
        snapshot_horizon_days(rows)
    with pytest.raises(ValueError, match="pass horizon_days"):
        snapshot_horizon_days(rows.iloc[0:0])
