"""What ships and scores: a learner's raw probability, then a calibration.

A `ChurnModel` is one *recipe* (learner + calibration + final-model rule, see
`retention.churn.recipes`) fitted for scoring. Its learner is either a
scikit-learn pipeline (logistic regression, gradient boosting, the Keras
network, ...), an average of such pipelines, or a BTYD model (Pareto/NBD or
BG/NBD P(no purchase in the horizon)) whose parameters were fitted on the
scoring date's customers. The calibration maps the raw probability to the
shipped one; the BTYD blend also reads the BTYD probability of each row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from retention.churn.btyd import BtydModel, rfm_from_snapshots

PROBABILITY_FLOOR = 1e-6
# Isotonic regression is fitted on bins of at least this many rows, and its output is kept
# within [1 / bin, 1 - 1 / bin]: a tiny top bin that happened to churn entirely would
# otherwise map to p = 0.9999 (seen on a real grocery log: 183 customers, 63% churned).
ISOTONIC_MIN_BIN_ROWS = 100
ISOTONIC_MIN_ROWS = 1000

CALIBRATIONS = ("none", "prior_shift", "sigmoid", "isotonic", "btyd_blend")


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.log(p / (1 - p))


def expit(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def intercept_shift(p: np.ndarray, target_rate: float) -> float:
    """The logit shift d with mean(expit(logit(p) + d)) = target_rate (a prior shift)."""
    z = logit(p)
    target = float(np.clip(target_rate, 1e-4, 1 - 1e-4))
    return float(brentq(lambda d: expit(z + d).mean() - target, -30.0, 30.0))


@dataclass
class Calibrator:
    """A monotone map from a raw probability (and, for the blend, a BTYD one) to the shipped one.

    Fitted on one cutoff's predictions and labels; applied to another cutoff's.
    """

    method: str = "none"
    model: object = None
    shift: float = 0.0

    def fit(self, raw: np.ndarray, y: np.ndarray, btyd: np.ndarray | None = None) -> Calibrator:
        raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=float)
        if self.method == "prior_shift":
            self.shift = intercept_shift(raw, y.mean())
        elif self.method == "sigmoid":
            self.model = LogisticRegression(C=1e6, max_iter=1000).fit(logit(raw)[:, None], y)
        elif self.method == "isotonic":
            self.model = _binned_isotonic(raw, y)
        elif self.method == "btyd_blend":
            if btyd is None:
                raise ValueError("the BTYD blend needs the BTYD probability of each row")
            features = np.column_stack([logit(raw), logit(btyd)])
            self.model = LogisticRegression(C=1e6, max_iter=1000).fit(features, y)
        elif self.method != "none":
            raise ValueError(f"unknown calibration {self.method!r}; choose from {CALIBRATIONS}")
        return self

    def transform(self, raw: np.ndarray, btyd: np.ndarray | None = None) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "prior_shift":
            out = expit(logit(raw) + self.shift)
        elif self.method == "sigmoid":
            out = self.model.predict_proba(logit(raw)[:, None])[:, 1]
        elif self.method == "isotonic":
            out = self.model.predict(raw)
        elif self.method == "btyd_blend":
            out = self.model.predict_proba(np.column_stack([logit(raw), logit(btyd)]))[:, 1]
        else:
            out = raw
        return np.clip(out, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


def _binned_isotonic(raw: np.ndarray, y: np.ndarray) -> IsotonicRegression:
    """Isotonic regression over quantile bins of at least ISOTONIC_MIN_BIN_ROWS rows."""
    order = np.argsort(raw, kind="stable")
    n_bins = max(1, len(raw) // ISOTONIC_MIN_BIN_ROWS)
    bins = np.array_split(order, n_bins)
    x = np.array([raw[b].mean() for b in bins])
    target = np.array([y[b].mean() for b in bins])
    weight = np.array([len(b) for b in bins], dtype=float)
    bound = 1.0 / ISOTONIC_MIN_BIN_ROWS
    return IsotonicRegression(y_min=bound, y_max=1 - bound, out_of_bounds="clip").fit(
        x, target, sample_weight=weight
    )


class MeanEnsemble:
    """The average of several fitted classifiers' churn probabilities."""

    def __init__(self, members: list):
        self.members = members
        self.classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.mean([np.asarray(m.predict_proba(frame))[:, 1] for m in self.members], axis=0)
        return np.column_stack([1 - p, p])


class ConstantLearner:
    """The same churn probability for everyone (the constant-rate baseline)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.full(len(frame), self.rate)
        return np.column_stack([1 - p, p])


class BtydLearner:
    """P(no purchase in the horizon) from a BTYD model with fixed, fitted parameters."""

    def __init__(self, model: BtydModel, horizon_days: int):
        self.model = model
        self.horizon_days = horizon_days
        self.classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        # Rows made by replacing or shuffling columns (reasons, permutation importance) can
        # be impossible histories; bound them to valid ones (a purchase, last <= first).
        first = frame["days_since_first_order"].to_numpy(dtype=float).clip(min=0)
        inputs = (
            frame["order_days_count"].to_numpy(dtype=float).clip(min=1),
            first,
            np.minimum(frame["days_since_last_order"].to_numpy(dtype=float).clip(min=0), first),
        )
        # Reasons and permutation importance predict the same rows many times with other
        # columns changed: the last inputs and their result are kept (compared exactly).
        last = getattr(self, "_last", None)
        if last is not None and all(map(np.array_equal, last[0], inputs)):
            p = last[1]
        else:
            columns = dict(zip(BTYD_INPUTS, inputs, strict=True))
            valid = pd.DataFrame({"customer_id": np.arange(len(frame)), **columns})
            p = self.model.p_no_purchase(rfm_from_snapshots(valid), self.horizon_days)
            p = np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
            self._last = (inputs, p)  # one assignment: threads see a whole pair or none
        return np.column_stack([1 - p, p])

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_last"}


# The snapshot columns a BTYD learner reads (rfm_from_snapshots).
BTYD_INPUTS = ["order_days_count", "days_since_first_order", "days_since_last_order"]


@dataclass
class ChurnModel:
    """One fitted recipe: what the registry saves and scoring loads."""

    name: str  # the recipe, e.g. "logistic_regression/sigmoid/refit"
    learner: str
    numeric: list[str]
    categorical: list[str]
    pipeline: object  # predict_proba over the feature columns
    calibrator: Calibrator
    horizon_days: int
    # The BTYD model the blend reads (fitted on the scoring date's customers), else None.
    blend_btyd: BtydLearner | None = None
    # Latest label-window end among the training rows: the model has seen no outcome after it.
    trained_through: pd.Timestamp | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def is_btyd(self) -> bool:
        return isinstance(self.pipeline, BtydLearner)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(frame[self.features])[:, 1], dtype=float)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        btyd = None
        if self.blend_btyd is not None:
            btyd = self.blend_btyd.predict_proba(frame)[:, 1]
        return self.calibrator.transform(self.predict_raw(frame), btyd)
