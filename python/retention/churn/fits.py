"""The fitted models and predictions a training run works with, made on demand.

`OutOfTimeFits` answers the questions recipes ask (retention.churn.recipes):
M(t)'s raw predictions at a cutoff, a BTYD model's at a cutoff, a cutoff's
labels. M(t) is fitted the first time it is asked for, on the rows of the
cutoffs labelled by t (a deterministic sample of whole customers above the row
cap), and kept; so is every prediction. Nothing here decides what is
validated where: that is the plan's and the recipes' job.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from retention.churn.btyd import BtydModel, BtydScores, rfm_from_snapshots
from retention.churn.candidates import LEARNER_MAX_ROWS, build_candidate, positive_proba
from retention.churn.frames import LABEL_COLUMN
from retention.churn.model import BtydLearner, MeanEnsemble
from retention.churn.plan import CutoffPlan

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble_mean"  # the average of the other classifier learners


def sample_customers(rows: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """A deterministic sample of whole customers (every cutoff of a sampled customer
    is kept) with about max_rows rows; the same customers whatever the row order."""
    if len(rows) <= max_rows:
        return rows
    fraction = max_rows / len(rows)
    buckets = pd.util.hash_pandas_object(rows["customer_id"].astype(str), index=False) % 10_000
    return rows[buckets.to_numpy() < int(fraction * 10_000)]


class OutOfTimeFits:
    def __init__(
        self,
        frame: pd.DataFrame,
        plan: CutoffPlan,
        numeric: list[str],
        categorical: list[str],
        learners: list[str],
        seed: int,
        max_training_rows: int,
        btyd_max_fit_customers: int | None = None,
    ):
        self.plan = plan
        self.numeric, self.categorical = numeric, categorical
        # The ensemble averages the shippable classifiers it is listed with.
        self.learners = [learner for learner in learners if learner != ENSEMBLE]
        self.seed = seed
        self.max_training_rows = max_training_rows
        self.btyd_max_fit_customers = btyd_max_fit_customers
        self._by_cutoff = {pd.Timestamp(c): rows for c, rows in frame.groupby("cutoff_date")}
        self._pipelines: dict[tuple[str, pd.Timestamp], object] = {}
        self._raw: dict[tuple[str, pd.Timestamp, pd.Timestamp], np.ndarray] = {}
        self._btyd: dict[tuple[str, pd.Timestamp], BtydModel] = {}
        self._btyd_scores: dict[tuple[str, pd.Timestamp, pd.Timestamp], BtydScores] = {}
        self.timings: dict[str, float] = {}
        self.training_rows: dict[tuple[str, pd.Timestamp], int] = {}

    # ---------- rows and labels
    def rows(self, at: pd.Timestamp) -> pd.DataFrame:
        return self._by_cutoff[pd.Timestamp(at)]

    def row_count(self, at: pd.Timestamp) -> int:
        return len(self.rows(at))

    def labels(self, at: pd.Timestamp) -> np.ndarray:
        return self.rows(at)[LABEL_COLUMN].astype(float).to_numpy()

    def training_set(self, fit_date: pd.Timestamp, learner: str) -> pd.DataFrame:
        """The rows M(fit_date) trains on: every cutoff labelled by fit_date, in time order."""
        cutoffs = self.plan.labelled_by(fit_date)
        rows = pd.concat([self.rows(c) for c in cutoffs])
        cap = min(self.max_training_rows, LEARNER_MAX_ROWS.get(learner, self.max_training_rows))
        return sample_customers(rows, cap)

    # ---------- classifiers
    def pipeline(self, learner: str, fit_date: pd.Timestamp):
        """M(fit_date) for this learner, fitted on first use."""
        key = (learner, pd.Timestamp(fit_date))
        if key not in self._pipelines:
            if learner == ENSEMBLE:
                members = [self.pipeline(m, fit_date) for m in self.learners]
                self._pipelines[key] = MeanEnsemble(members)
            else:
                self._pipelines[key] = self._fit(learner, key[1])
        return self._pipelines[key]

    def _fit(self, learner: str, fit_date: pd.Timestamp):
        started = time.perf_counter()
        rows = self.training_set(fit_date, learner)
        columns = self.numeric + self.categorical
        pipeline = build_candidate(learner, self.numeric, self.categorical, self.seed)
        pipeline.fit(rows[columns], rows[LABEL_COLUMN].astype(float).to_numpy())
        seconds = time.perf_counter() - started
        self.timings[f"{learner}_fit_seconds"] = (
            self.timings.get(f"{learner}_fit_seconds", 0.0) + seconds
        )
        self.training_rows[(learner, fit_date)] = len(rows)
        log.info(
            "fitted %s at %s on %d rows (%d cutoffs) in %.1fs",
            learner,
            fit_date.date(),
            len(rows),
            rows["cutoff_date"].nunique(),
            seconds,
        )
        return pipeline

    def raw(self, learner: str, fit_date: pd.Timestamp, at: pd.Timestamp) -> np.ndarray:
        key = (learner, pd.Timestamp(fit_date), pd.Timestamp(at))
        if key not in self._raw:
            if learner == ENSEMBLE:
                self._raw[key] = np.mean([self.raw(m, fit_date, at) for m in self.learners], axis=0)
            else:
                frame = self.rows(at)[self.numeric + self.categorical]
                self._raw[key] = positive_proba(self.pipeline(learner, fit_date), frame)
        return self._raw[key]

    # ---------- BTYD (fitted without labels on one cutoff's rows)
    def _btyd_model(self, kind: str, fitted_at: pd.Timestamp) -> BtydModel:
        key = (kind, pd.Timestamp(fitted_at))
        if key not in self._btyd:
            started = time.perf_counter()
            rfm = rfm_from_snapshots(self.rows(fitted_at))
            model = BtydModel(kind).fit(rfm, self.btyd_max_fit_customers)
            seconds = time.perf_counter() - started
            self.timings[f"{kind}_seconds"] = self.timings.get(f"{kind}_seconds", 0.0) + seconds
            log.info(
                "%s fitted at %s on %d customers in %.1fs", kind, key[1].date(), len(rfm), seconds
            )
            self._btyd[key] = model
        return self._btyd[key]

    def btyd_scores(self, kind: str, fitted_at: pd.Timestamp, at: pd.Timestamp) -> BtydScores:
        key = (kind, pd.Timestamp(fitted_at), pd.Timestamp(at))
        if key not in self._btyd_scores:
            model = self._btyd_model(kind, fitted_at)
            rfm = rfm_from_snapshots(self.rows(at))
            self._btyd_scores[key] = model.score(rfm, self.plan.horizon_days)
        return self._btyd_scores[key]

    def btyd(self, kind: str, fitted_at: pd.Timestamp, at: pd.Timestamp) -> np.ndarray:
        return self.btyd_scores(kind, fitted_at, at).p_no_purchase

    def btyd_learner(self, kind: str, fitted_at: pd.Timestamp) -> BtydLearner:
        return BtydLearner(self._btyd_model(kind, fitted_at), self.plan.horizon_days)
