"""The fitted models and predictions a training run works with, made on demand.

`OutOfTimeFits` answers the questions recipes ask (retention.churn.recipes):
M(t)'s raw predictions at a cutoff, a BTYD model's at a cutoff, a cutoff's
labels. M(t) is fitted the first time it is asked for, on the rows of the
cutoffs labelled by t (a deterministic sample of whole customers above the row
cap), and kept; so is every prediction. Nothing here decides what is
validated where: that is the plan's and the recipes' job.

`prefetch` fits a list of models ahead of use, in parallel threads when asked
(`fit_workers`), with the BTYD models and the scores the recipes will read: each fit
stays single-threaded and seeded, so the models are the same whatever the number of
workers (tests/python/test_churn_fit_workers.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from retention.churn.btyd import BtydModel, BtydScores, rfm_from_snapshots
from retention.churn.candidates import (
    LEARNER_MAX_ROWS,
    build_candidate,
    calling_thread_limit,
    positive_proba,
)
from retention.churn.frames import LABEL_COLUMN
from retention.churn.model import BtydLearner, MeanEnsemble
from retention.churn.plan import CutoffPlan

log = logging.getLogger(__name__)

ENSEMBLE = "ensemble_mean"  # the average of the other classifier learners
# Learners that seed process-wide state when they fit (Keras sets the TensorFlow, NumPy and
# Python seeds): their fits run one at a time, on one worker.
SERIAL_LEARNERS = ("keras_mlp",)


def customer_buckets(rows: pd.DataFrame) -> np.ndarray:
    """Each row's sample bucket (0-9,999), a hash of its customer id: the same customer
    falls in the same bucket at every cutoff."""
    hashed = pd.util.hash_pandas_object(rows["customer_id"].astype(str), index=False)
    return (hashed % 10_000).to_numpy()


def sample_customers(
    rows: pd.DataFrame, max_rows: int, buckets: np.ndarray | None = None
) -> pd.DataFrame:
    """A deterministic sample of whole customers (every cutoff of a sampled customer
    is kept) with about max_rows rows; the same customers whatever the row order.
    `buckets`: customer_buckets(rows), when the caller keeps them."""
    if len(rows) <= max_rows:
        return rows
    fraction = max_rows / len(rows)
    if buckets is None:
        buckets = customer_buckets(rows)
    return rows[buckets < int(fraction * 10_000)]


def rows_by_cutoff(frame: pd.DataFrame) -> dict[pd.Timestamp, pd.DataFrame]:
    """Each cutoff's rows, in frame order. Training's frame is sorted by cutoff
    (prepare_snapshots), so each cutoff's rows are one slice of it, not a copy (a groupby
    copied all ~80 columns of every row: ~1 s at 100k customers, on training's critical
    path); the same rows either way."""
    dates = frame["cutoff_date"]
    if frame.empty or not dates.is_monotonic_increasing:
        return {pd.Timestamp(c): rows for c, rows in frame.groupby("cutoff_date")}
    values = dates.to_numpy()
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    return {pd.Timestamp(values[a]): frame.iloc[a:b] for a, b in zip(starts, ends, strict=True)}


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
        self._by_cutoff = rows_by_cutoff(frame)
        # Each cutoff's sample buckets, hashed once: every fit date's training set reuses them.
        self._buckets: dict[pd.Timestamp, np.ndarray] = {}
        self._pipelines: dict[tuple[str, pd.Timestamp], object] = {}
        self._raw: dict[tuple[str, pd.Timestamp, pd.Timestamp], np.ndarray] = {}
        self._btyd: dict[tuple[str, pd.Timestamp], BtydModel] = {}
        self._btyd_scores: dict[tuple[str, pd.Timestamp, pd.Timestamp], BtydScores] = {}
        self._btyd_p0: dict[tuple[str, pd.Timestamp, pd.Timestamp], np.ndarray] = {}
        self.timings: dict[str, float] = {}
        self.training_rows: dict[tuple[str, pd.Timestamp], int] = {}
        self._timings_lock = threading.Lock()

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
        if len(rows) <= cap:
            return rows
        return sample_customers(rows, cap, np.concatenate([self._bucket(c) for c in cutoffs]))

    def _bucket(self, cutoff: pd.Timestamp) -> np.ndarray:
        key = pd.Timestamp(cutoff)
        if key not in self._buckets:  # two fit workers may both hash it: same result
            self._buckets[key] = customer_buckets(self.rows(key))
        return self._buckets[key]

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
        with self._timings_lock:
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

    def prefetch(self, models: list[tuple[str, pd.Timestamp]], workers: int, scores=()) -> None:
        """Fit the (learner, fit date) models not fitted yet, `workers` at a time, and with
        them the BTYD models and the scores (sources, as recipes.scores_needed gives them)
        that `scores` names, each score right after its model, in the same worker.

        With one worker nothing happens here: the models are fitted on first use, in the
        order they are asked for. With more, the serial learners (Keras) run one after the
        other on the first worker, which then helps with the rest; every fit keeps the
        calling thread's BLAS/OpenMP limit (RETENTION_ML_THREADS). The results are the
        same either way: each fit and score is seeded and computed once.
        """
        wanted = self._not_fitted(models)
        then = self._scores_after(scores)
        btyd = [key for key in then if key[0] == "btyd" and key[1:] not in self._btyd]
        if workers <= 1 or len(wanted) + len(btyd) < 2:
            return
        shared: queue.SimpleQueue = queue.SimpleQueue()
        for key in wanted:
            if key[0] not in SERIAL_LEARNERS:
                shared.put(("model", *key))
        for key in btyd:  # short: they fill the gaps the long fits leave
            shared.put(key)
        serial = [("model", *key) for key in wanted if key[0] in SERIAL_LEARNERS]
        lanes = [serial] + [[] for _ in range(min(workers, len(wanted) + len(btyd)) - 1)]
        started = time.perf_counter()
        threads = calling_thread_limit()
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="churn-fit") as pool:
            work = [(with_thread_limit, threads, self._lane, own, shared, then) for own in lanes]
            for done in [pool.submit(*args) for args in work]:
                done.result()
        log.info(
            "fitted %d models (%d BTYD) on %d workers in %.1fs",
            len(wanted) + len(btyd),
            len(btyd),
            len(lanes),
            time.perf_counter() - started,
        )

    def _scores_after(self, scores) -> dict[tuple, list[pd.Timestamp]]:
        """("model" | "btyd", learner, fit date) -> the cutoffs to score once it is fitted;
        an ensemble's scores stand for its members'."""
        then: dict[tuple, list[pd.Timestamp]] = {}
        for kind, learner, fit_date, at in scores:
            for member in self.learners if learner == ENSEMBLE else [learner]:
                key = (kind, member, pd.Timestamp(fit_date))
                then.setdefault(key, []).append(pd.Timestamp(at))
        return then

    def _not_fitted(self, models) -> list[tuple[str, pd.Timestamp]]:
        """The models not fitted yet, an ensemble standing for its members, in order."""
        wanted: dict[tuple[str, pd.Timestamp], None] = {}
        for learner, fit_date in models:
            for member in self.learners if learner == ENSEMBLE else [learner]:
                key = (member, pd.Timestamp(fit_date))
                if key not in self._pipelines:
                    wanted[key] = None
        return list(wanted)

    def _lane(self, own: list, shared: queue.SimpleQueue, then: dict) -> None:
        """One worker: its own items first, then whatever is left in the shared queue."""
        for item in own:
            self._work(item, then)
        while True:
            try:
                item = shared.get_nowait()
            except queue.Empty:
                return
            self._work(item, then)

    def _work(self, item: tuple, then: dict) -> None:
        kind, learner, fit_date = item
        if kind == "model":
            self._pipelines[(learner, fit_date)] = self._fit(learner, fit_date)
            for at in then.get(item, []):
                self.raw(learner, fit_date, at)
        else:
            self._btyd_model(learner, fit_date)
            for at in then.get(item, []):
                self.btyd(learner, fit_date, at)

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
            with self._timings_lock:
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
        """P(no purchase in H) alone (the recipes' input): the other expectations of
        btyd_scores cost as much again, and only the reference scores read them."""
        key = (kind, pd.Timestamp(fitted_at), pd.Timestamp(at))
        if key in self._btyd_scores:
            return self._btyd_scores[key].p_no_purchase
        if key not in self._btyd_p0:
            model = self._btyd_model(kind, fitted_at)
            rfm = rfm_from_snapshots(self.rows(at))
            self._btyd_p0[key] = model.p_no_purchase(rfm, self.plan.horizon_days)
        return self._btyd_p0[key]

    def btyd_learner(self, kind: str, fitted_at: pd.Timestamp) -> BtydLearner:
        return BtydLearner(self._btyd_model(kind, fitted_at), self.plan.horizon_days)


def with_thread_limit(threads: int, function, *args):
    """function(*args) under a BLAS/OpenMP thread limit, for a new thread: OpenMP's thread
    count is per native thread, and a new thread starts at the default."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return function(*args)
