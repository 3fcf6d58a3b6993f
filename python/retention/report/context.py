"""What every section may need besides the marts: the champion run and its horizon."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from retention.report.data import Marts

DEFAULT_HORIZON_DAYS = 90  # churn_horizon_days' default, shown only when no run says otherwise


@dataclass
class RunContext:
    """The champion run the model card and summary refer to (None without a model)."""

    run: pd.Series | None
    horizon_days: int
    horizon_is_default: bool

    @classmethod
    def load(cls, marts: Marts) -> RunContext:
        if not marts.has("fct_model_runs"):
            return cls(None, DEFAULT_HORIZON_DAYS, True)
        runs = marts.df(
            "select * from marts.fct_model_runs order by is_champion desc, trained_at desc"
        )
        run = runs.iloc[0]
        horizon = _configured_horizon(run)
        if horizon is None:
            return cls(run, DEFAULT_HORIZON_DAYS, True)
        return cls(run, horizon, False)


def _configured_horizon(run: pd.Series) -> int | None:
    """The label horizon the run was trained with (its parameters_json), if it says."""
    try:
        config = json.loads(run["parameters_json"] or "{}").get("config", {})
        return int(config["horizon_days"]) if config.get("horizon_days") else None
    except (TypeError, ValueError):
        return None
