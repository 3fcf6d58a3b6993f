"""What every section may need besides the marts: the build's definitions and the champion.

The definitions (scoring date, label horizon, churn rule, latest mature cutoff) are read
from ``marts.dim_definitions``, the build's record of what they meant (docs/architecture.md,
"Definitions"); the report never derives or defaults them itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from retention.report.data import Marts


@dataclass
class RunContext:
    """The build's definitions, and the champion run the model card and summary refer
    to (None without a model)."""

    run: pd.Series | None
    definitions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, marts: Marts) -> RunContext:
        definitions = {}
        if marts.has("dim_definitions"):
            rows = marts.df("select definition_name, definition_value from marts.dim_definitions")
            definitions = dict(zip(rows["definition_name"], rows["definition_value"], strict=True))
        if not marts.has("fct_model_runs"):
            return cls(None, definitions)
        runs = marts.df(
            "select * from marts.fct_model_runs order by is_champion desc, trained_at desc"
        )
        return cls(runs.iloc[0], definitions)

    def _value(self, name: str) -> str | None:
        value = self.definitions.get(name)
        return None if value is None or pd.isna(value) else str(value)

    @property
    def horizon_days(self) -> int | None:
        """The label horizon of the build (None when dim_definitions was not published)."""
        value = self._value("label_horizon_days")
        return None if value is None else int(value)

    @property
    def horizon_text(self) -> str:
        return "the label horizon" if self.horizon_days is None else f"{self.horizon_days} days"

    @property
    def as_of_date(self) -> str | None:
        return self._value("as_of_date")

    @property
    def latest_mature_cutoff(self) -> str | None:
        return self._value("latest_mature_cutoff_date")

    @property
    def active_window_days(self) -> int | None:
        value = self._value("active_window_days")
        return None if value is None else int(value)

    @property
    def churn_event(self) -> str:
        """What counts as staying, in words: a completed order, or any activity."""
        if self._value("churn_definition") == "activity":
            return "order or event"
        return "completed order"
