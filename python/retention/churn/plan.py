"""Which cutoffs train, calibrate and validate what: rolling origins, purged.

Notation (README, "Churn model"). H is the horizon; a cutoff c is *labelled by*
a date t when its label window has closed by t, c + H <= t. For a date t:

- L(t): the cutoffs labelled by t. A model "fitted at t", M(t), trains on them.
- v(t): the latest of them, where a recipe's calibration is learned.

Shipping at the scoring date T fits M(T) (every mature cutoff) and learns the
calibration at v(T) = c_0, the latest mature cutoff, from the out-of-time
predictions of M(c_0) (trained on L(c_0): purged, no label window reaching
past c_0). Every recipe is validated by *simulating that same procedure* at
earlier dates: at an origin e (one of the latest mature cutoffs), pretend
T = e, fit M(e) and M(v(e)), learn the calibration at v(e), score the rows
of e and compare with their labels. Nothing the simulated shipping uses was
labelled after e, so the validation measures the predictions that ship,
calibration and base-rate drift included.

An origin is *deep* when M(v(e)) can be trained (L(v(e)) has enough labels):
then calibrations learned from out-of-time predictions can be validated.
Otherwise it is *shallow*: only recipes whose calibration is a prior shift
learned at v(e) on M(e) itself (one parameter) are validated there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


class InsufficientLabelsError(RuntimeError):
    """Too few labelled rows, churners or non-churners to train honestly."""


@dataclass(frozen=True)
class Origin:
    """A date where a recipe is applied as if it were the scoring date."""

    date: pd.Timestamp  # the pseudo scoring date (a mature cutoff, or the real as_of_date)
    calibration_cutoff: pd.Timestamp  # v(date)
    deep: bool


@dataclass
class CutoffPlan:
    as_of: pd.Timestamp
    horizon_days: int
    label_end: dict[pd.Timestamp, pd.Timestamp]  # mature cutoff -> label window end
    origins: list[Origin]  # validation origins, latest first
    ship: Origin  # date = as_of, calibration_cutoff = c_0

    @property
    def mode(self) -> str:
        return "deep" if all(o.deep for o in self.origins) else "shallow"

    def labelled_by(self, date: pd.Timestamp) -> list[pd.Timestamp]:
        """L(date): the mature cutoffs whose label windows closed by `date`."""
        return sorted(c for c, end in self.label_end.items() if end <= date)

    def fit_dates(self) -> list[pd.Timestamp]:
        """Every date t whose M(t) some origin or the shipping needs, latest first."""
        dates = {self.ship.date, *(o.date for o in self.origins)}
        if self.mode == "deep":
            dates |= {self.ship.calibration_cutoff}
            dates |= {o.calibration_cutoff for o in self.origins}
        return sorted(dates, reverse=True)


def latest_labelled(label_end: dict, date: pd.Timestamp) -> pd.Timestamp | None:
    labelled = [c for c, end in label_end.items() if end <= date]
    return max(labelled) if labelled else None


class _Checker:
    """Whether a date can be a validation origin: labels to train on and to score."""

    def __init__(self, mature: pd.DataFrame, label_end: dict, problem):
        self.mature, self.label_end, self.problem = mature, label_end, problem
        self.by_cutoff = dict(tuple(mature.groupby("cutoff_date")))

    def rows_labelled_by(self, date: pd.Timestamp) -> pd.DataFrame:
        cutoffs = [c for c, end in self.label_end.items() if end <= date]
        return self.mature[self.mature["cutoff_date"].isin(cutoffs)]

    def why_not(self, date: pd.Timestamp, what: str = "") -> str | None:
        """What is missing to train at `date` and, if it is a cutoff, to score it."""
        if latest_labelled(self.label_end, date) is None:
            return f"no cutoff is labelled by {date.date()}"
        why = self.problem(
            self.rows_labelled_by(date), what and f"training cutoffs labelled by {date.date()}"
        )
        if date in self.by_cutoff and not why:
            why = self.problem(self.by_cutoff[date], what and f"validation cutoff {date.date()}")
        return why

    def origin(self, date: pd.Timestamp) -> tuple[Origin | None, str | None]:
        why = self.why_not(date, "reason")
        if why:
            return None, why
        v = latest_labelled(self.label_end, date)
        return Origin(date, v, self.why_not(v) is None), None


def plan_cutoffs(
    mature: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon_days: int,
    max_origins: int,
    problem: Callable[[pd.DataFrame, str], str | None],
) -> CutoffPlan:
    """The validation origins: the latest `max_origins` mature cutoffs whose simulated
    shipping has enough labels (all deep if at least one is; else shallow ones).

    `problem(rows, what)` says what is wrong with a set of labelled rows, or None.
    Raises InsufficientLabelsError (with every reason) when no origin is usable.
    """
    ends = mature.groupby("cutoff_date")["label_window_end_date"].max()
    label_end = {pd.Timestamp(c): pd.Timestamp(e) for c, e in ends.items()}
    checker = _Checker(mature, label_end, problem)
    ship, why_not = checker.origin(as_of)
    if not mature.empty and ship is None:
        raise InsufficientLabelsError(why_not)
    usable, reasons = [], []
    for date in sorted(label_end, reverse=True):
        origin, why = checker.origin(date)
        if origin is None:
            reasons.append(why)
        else:
            usable.append(origin)
    if mature.empty or not usable:
        detail = "; ".join(dict.fromkeys(reasons)) or "no mature cutoff"
        raise InsufficientLabelsError(
            "no validation origin: every mature cutoff lacks a labelled history to train on "
            f"out of time ({detail})"
        )
    deep = [o for o in usable if o.deep]
    origins = (deep if deep and ship.deep else usable)[:max_origins]
    ship = Origin(as_of, ship.calibration_cutoff, ship.deep and origins[0].deep)
    return CutoffPlan(as_of, horizon_days, label_end, origins, ship)
