"""The behaviour features segments are clustered on, and their transform.

Each feature has a role (what it says about a customer) and a rule for
missing values. Only the features present and non-constant in the fit sample
are used, so orders-only sources (CDNOW) cluster on recency, frequency,
monetary and tenure, and richer sources add engagement and discount use.

Heavy-tailed counts, amounts and day counts are log1p-transformed, then every
feature is standardised on the fit sample. Secondary features (trend,
engagement, discounts) get half the weight of the RFM core, so they refine the
segments rather than define them. The transform is plain numpy with its
parameters kept in the run record (JSON), so a run can be reapplied and its
centroids mapped back to original units without pickles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FeatureSpec:
    column: str
    role: str
    log: bool
    fill: str  # zero | max | median: the value of a missing entry
    weight: float = 1.0
    required: bool = False


# Order matters only for presentation (run record, profile JSON).
FEATURE_SPECS: tuple[FeatureSpec, ...] = (
    # No order yet (activity churn) = as stale as the stalest buyer.
    FeatureSpec("days_since_last_order", "recency", log=True, fill="max", required=True),
    FeatureSpec("orders_count", "frequency", log=True, fill="zero", required=True),
    # Order value rather than revenue: revenue = frequency x order value, so
    # order value is the monetary information frequency does not already carry.
    FeatureSpec("avg_order_value", "monetary", log=True, fill="zero"),
    FeatureSpec("days_since_first_order", "tenure", log=True, fill="zero"),
    FeatureSpec("orders_trend_90d", "trend", log=False, fill="zero", weight=0.5),
    FeatureSpec("sessions_90d", "engagement", log=True, fill="zero", weight=0.5),
    FeatureSpec("discounted_order_rate", "discount", log=False, fill="zero", weight=0.5),
)
SPEC_BY_COLUMN = {spec.column: spec for spec in FEATURE_SPECS}
ROLE_OF = {spec.column: spec.role for spec in FEATURE_SPECS}


def unknown_spend(frame: pd.DataFrame) -> bool:
    """Some buyer's order value is unknown: an order without an amount (README, "Orders
    without amounts"). A missing value of a customer without orders means no spend."""
    if "avg_order_value" not in frame.columns or "orders_count" not in frame.columns:
        return False
    buyers = pd.to_numeric(frame["orders_count"], errors="coerce").fillna(0) > 0
    return bool(pd.to_numeric(frame.loc[buyers, "avg_order_value"], errors="coerce").isna().any())


def available_features(frame: pd.DataFrame) -> list[FeatureSpec]:
    """The specs whose column exists, has a value and is not constant. The monetary
    feature is left out when some buyer's spend is unknown: filling it would fake it."""
    specs = []
    for spec in FEATURE_SPECS:
        if spec.column not in frame.columns:
            if spec.required:
                raise ValueError(
                    f"segmentation needs column {spec.column!r} (fct_customer_snapshots)"
                )
            continue
        if spec.role == "monetary" and unknown_spend(frame):
            continue
        values = pd.to_numeric(frame[spec.column], errors="coerce")
        if values.notna().any() and values.nunique(dropna=True) > 1:
            specs.append(spec)
        elif spec.required and not values.notna().any():
            raise ValueError(f"segmentation needs values in {spec.column!r}; all are missing")
    return specs


@dataclass
class FeatureTransform:
    """fill -> clip/log1p -> standardise -> weight, fitted on the fit sample."""

    columns: list[str]
    log: list[bool]
    fill_values: list[float]
    weights: list[float]
    mean_: list[float]
    scale_: list[float]

    @classmethod
    def fit(cls, frame: pd.DataFrame, specs: list[FeatureSpec]) -> FeatureTransform:
        columns = [s.column for s in specs]
        values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        fills = []
        for j, spec in enumerate(specs):
            present = values[:, j][~np.isnan(values[:, j])]
            if spec.fill == "max":
                fills.append(float(present.max()) if present.size else 0.0)
            elif spec.fill == "median":
                fills.append(float(np.median(present)) if present.size else 0.0)
            else:
                fills.append(0.0)
        transform = cls(
            columns=columns,
            log=[s.log for s in specs],
            fill_values=fills,
            weights=[s.weight for s in specs],
            mean_=[0.0] * len(specs),
            scale_=[1.0] * len(specs),
        )
        shaped = transform._shape(transform.raw(frame))
        scale = shaped.std(axis=0)
        transform.mean_ = shaped.mean(axis=0).tolist()
        transform.scale_ = np.where(scale > 0, scale, 1.0).tolist()
        return transform

    # ---------- original units
    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature values in original units, missing values filled."""
        values = frame[self.columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        return np.where(np.isnan(values), np.asarray(self.fill_values), values)

    def _shape(self, raw: np.ndarray) -> np.ndarray:
        logs = np.asarray(self.log)
        shaped = raw.copy()
        shaped[:, logs] = np.log1p(np.clip(raw[:, logs], 0, None))
        return shaped

    # ---------- clustering space
    def to_space(self, raw: np.ndarray) -> np.ndarray:
        z = (self._shape(raw) - np.asarray(self.mean_)) / np.asarray(self.scale_)
        return z * np.asarray(self.weights)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.to_space(self.raw(frame))

    def to_original(self, z: np.ndarray) -> np.ndarray:
        shaped = z / np.asarray(self.weights) * np.asarray(self.scale_) + np.asarray(self.mean_)
        logs = np.asarray(self.log)
        original = shaped.copy()
        original[:, logs] = np.expm1(shaped[:, logs])
        return original

    def subset(self, columns: list[str]) -> FeatureTransform:
        """The same transform restricted to some columns (to compare runs with other features)."""
        index = [self.columns.index(c) for c in columns]

        def pick(values: list) -> list:
            return [values[i] for i in index]

        return FeatureTransform(
            columns=list(columns),
            log=pick(self.log),
            fill_values=pick(self.fill_values),
            weights=pick(self.weights),
            mean_=pick(self.mean_),
            scale_=pick(self.scale_),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureTransform:
        return cls(**data)
