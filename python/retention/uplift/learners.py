"""Uplift learners: the individual effect of a contact on P(retained).

Trained on past randomized campaigns: each row is a customer's point-in-time features
at the contact day, whether the customer was treated (1: got the offer) or in the
campaign's random control group (0), and whether the customer was retained within the
outcome window (y). A churn score ranks who will leave; an uplift score ranks whom a
contact changes, which is what a retention budget should buy.

- T-learner: one classifier per arm; effect = mu1(x) - mu0(x). Simple, but each arm's
  model regularises on its own, so the difference carries both models' noise.
- X-learner (Künzel et al. 2019, PNAS): the same mu0 and mu1, then imputed effects
  D1 = y - mu0(x) on treated rows and D0 = mu1(x) - y on control rows, each regressed on
  x (tau1, tau0); tau(x) = g * tau0(x) + (1 - g) * tau1(x). g is the propensity; in a
  randomized campaign it is known and constant: the treated share. With the usual
  unbalanced campaign (a small control group), g is large, so the weight goes to tau0,
  whose imputation uses mu1, the model of the big arm.

Every model is a small HistGradientBoosting (it handles missing values natively, so a
feature missing for lack of history needs no imputation) behind a step that casts the
frame to floats (booleans become 0/1). Categoricals must be encoded as numbers first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

UPLIFT_LEARNERS = ("t_learner", "x_learner")
# Below this many rows an arm's model is mostly noise, and differences of two noisy
# models are noisier still.
MIN_ARM_ROWS = 50
# Few, shallow trees with large leaves and an L2 penalty: a campaign has hundreds to a few
# thousand rows per arm, and an uplift is the difference of two noisy estimates, so the
# variance of the fits, not their bias, decides what a list of the top-scored customers
# is worth. No early stopping (its validation split would take rows from a small control
# arm, and make the fit depend on the split). Chosen on one generated shop (seed 7) and
# judged on others (benchmarks/uplift.py, BENCHMARKS.md "Uplift").
HGB_PARAMS = {
    "max_iter": 60,
    "learning_rate": 0.05,
    "max_depth": 3,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 150,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


def _as_float(frame: pd.DataFrame) -> np.ndarray:
    """Numeric and boolean columns as one float matrix; missing values (None, pd.NA) as NaN."""
    return frame.to_numpy(dtype=float, na_value=np.nan)


def check_features(X: pd.DataFrame) -> None:
    """Numeric and boolean columns only: the learners do not guess an encoding."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"features must be a pandas DataFrame, not {type(X).__name__}")
    bad = {
        str(c): str(t)
        for c, t in X.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))
    }
    if bad:
        raise ValueError(
            f"feature columns {bad} are neither numeric nor boolean: encode categoricals "
            "as numbers (one-hot or codes) before fitting an uplift learner"
        )


def check_campaign(treated: np.ndarray, y: np.ndarray, n_rows: int) -> None:
    """Both arms large enough and with both outcomes; a clear error says what to do."""
    for name, values in (("treated", treated), ("y", y)):
        if values.shape != (n_rows,):
            raise ValueError(f"{name} has shape {values.shape}; expected ({n_rows},)")
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name} must be 0/1 (got values {np.unique(values)[:5]})")
    for arm, label in ((1, "treated"), (0, "control")):
        outcomes = y[treated == arm]
        if len(outcomes) < MIN_ARM_ROWS:
            raise ValueError(
                f"the {label} arm has {len(outcomes)} rows, fewer than {MIN_ARM_ROWS}: "
                "pool more randomized campaigns (or keep a larger control group) "
                "before fitting an uplift learner"
            )
        if len(np.unique(outcomes)) < 2:
            raise ValueError(
                f"every {label} row has outcome y={int(outcomes[0])}: the learner needs "
                "both retained and not retained customers in each arm; check the outcome "
                "window or pool more campaigns"
            )


def _classifier(seed: int) -> Pipeline:
    return Pipeline(
        [
            ("to_float", FunctionTransformer(_as_float)),
            ("model", HistGradientBoostingClassifier(**HGB_PARAMS, random_state=seed)),
        ]
    )


def _regressor(seed: int) -> Pipeline:
    return Pipeline(
        [
            ("to_float", FunctionTransformer(_as_float)),
            ("model", HistGradientBoostingRegressor(**HGB_PARAMS, random_state=seed)),
        ]
    )


def _positive(model: Pipeline, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X)[:, 1], dtype=float)


class UpliftLearner:
    """fit(X, treated, y), then effect(X) = P(y=1 | x, treated) - P(y=1 | x, control)."""

    name = "uplift_learner"

    def __init__(self, seed: int = 42):
        self.seed = seed

    def fit(self, X: pd.DataFrame, treated: np.ndarray, y: np.ndarray) -> UpliftLearner:
        check_features(X)
        treated, y = np.asarray(treated), np.asarray(y)
        check_campaign(treated, y, len(X))
        treated, y = treated.astype(int), y.astype(int)
        self.feature_names_ = list(X.columns)
        self.treated_share_ = float(treated.mean())
        self._fit(X.reset_index(drop=True), treated, y)
        return self

    def effect(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "feature_names_"):
            raise ValueError(f"{self.name} is not fitted: call fit(X, treated, y) first")
        check_features(X)
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise ValueError(f"features {missing} were in the training frame but are missing")
        # Differences of probabilities lie in [-1, 1]; the X-learner's regressors can stray.
        return np.clip(self._effect(X[self.feature_names_]), -1.0, 1.0)

    def _fit(self, X: pd.DataFrame, treated: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _effect(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError


class TLearner(UpliftLearner):
    """One classifier per arm; the effect is the difference of their probabilities."""

    name = "t_learner"

    def _fit(self, X: pd.DataFrame, treated: np.ndarray, y: np.ndarray) -> None:
        is_t = treated == 1
        self.mu1_ = _classifier(self.seed).fit(X[is_t], y[is_t])
        self.mu0_ = _classifier(self.seed).fit(X[~is_t], y[~is_t])

    def _effect(self, X: pd.DataFrame) -> np.ndarray:
        return _positive(self.mu1_, X) - _positive(self.mu0_, X)


class XLearner(UpliftLearner):
    """Künzel et al.'s X-learner with the known, constant propensity of a randomized campaign."""

    name = "x_learner"

    def _fit(self, X: pd.DataFrame, treated: np.ndarray, y: np.ndarray) -> None:
        is_t = treated == 1
        X1, X0 = X[is_t], X[~is_t]
        self.mu1_ = _classifier(self.seed).fit(X1, y[is_t])
        self.mu0_ = _classifier(self.seed).fit(X0, y[~is_t])
        # Imputed effects: each arm's outcome against the other arm's model of it.
        d1 = y[is_t] - _positive(self.mu0_, X1)
        d0 = _positive(self.mu1_, X0) - y[~is_t]
        self.tau1_ = _regressor(self.seed).fit(X1, d1)
        self.tau0_ = _regressor(self.seed).fit(X0, d0)

    def _effect(self, X: pd.DataFrame) -> np.ndarray:
        g = self.treated_share_
        tau0 = np.asarray(self.tau0_.predict(X), dtype=float)
        tau1 = np.asarray(self.tau1_.predict(X), dtype=float)
        return g * tau0 + (1 - g) * tau1


def make_uplift_learner(name: str, seed: int = 42) -> UpliftLearner:
    if name == "t_learner":
        return TLearner(seed)
    if name == "x_learner":
        return XLearner(seed)
    raise ValueError(f"unknown uplift learner {name!r}; choose from {UPLIFT_LEARNERS}")
