"""The simulation window and seasonal intensity profiles.

Time is an ``int64`` count of seconds since the Unix epoch (UTC). An :class:`IntensityGrid`
turns a :class:`~retention.datagen.params.Seasonality` into an hourly intensity normalised to a
mean of 1 per day over the window; its cumulative function ``G`` maps clock time to "effective
days". A Poisson process of rate ``r`` per (average) day then has ``r * (G(b) - G(a))`` expected
events in ``[a, b]``, and its event times are ``G^-1`` of uniforms in ``[G(a), G(b)]``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from retention.datagen.params import Seasonality

DAY = 86_400
HOUR = 3_600
_EPOCH = dt.datetime(1970, 1, 1)

# Calendar codes of the seasonal coupon campaigns.
SEASON_NONE, SEASON_SPRING, SEASON_SUMMER, SEASON_BFCM, SEASON_HOLIDAY = range(5)


def to_epoch(day: dt.date) -> int:
    """Seconds since the epoch of ``day`` at 00:00:00 UTC."""
    return int((dt.datetime(day.year, day.month, day.day) - _EPOCH).total_seconds())


def black_friday(year: int) -> dt.date:
    """The day after the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


@dataclass(frozen=True)
class Window:
    """The simulated period ``[start 00:00:00, end 23:59:59]`` and per-day calendar arrays."""

    start: dt.date
    end: dt.date

    @property
    def start_ts(self) -> int:
        return to_epoch(self.start)

    @property
    def end_ts(self) -> int:
        """Last second of the window (inclusive)."""
        return to_epoch(self.end) + DAY - 1

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.n_days)]

    def bfcm_mask(self) -> np.ndarray:
        """Per day: is it between Black Friday and Cyber Monday (inclusive)?"""
        days = self.days()
        mask = np.zeros(self.n_days, dtype=bool)
        for year in {d.year for d in days}:
            friday = black_friday(year)
            for k in range(4):
                idx = (friday + dt.timedelta(days=k) - self.start).days
                if 0 <= idx < self.n_days:
                    mask[idx] = True
        return mask

    def season_codes(self) -> np.ndarray:
        """Per day: which seasonal coupon campaign runs (``SEASON_*``)."""
        days = self.days()
        month = np.array([d.month for d in days])
        dom = np.array([d.day for d in days])
        codes = np.full(self.n_days, SEASON_NONE, dtype=np.int8)
        codes[((month == 3) & (dom >= 15)) | (month == 4)] = SEASON_SPRING
        codes[month == 7] = SEASON_SUMMER
        codes[(month == 12) & (dom <= 24)] = SEASON_HOLIDAY
        codes[self.bfcm_mask()] = SEASON_BFCM
        return codes


class IntensityGrid:
    """Hourly piecewise-constant intensity with mean 1 per day over the window."""

    def __init__(self, window: Window, season: Seasonality) -> None:
        days = window.days()
        month = np.array([d.month - 1 for d in days])
        weekday = np.array([d.weekday() for d in days])
        daily = np.asarray(season.monthly)[month] * np.asarray(season.weekly)[weekday]
        daily = daily * np.where(window.bfcm_mask(), season.black_friday, 1.0)
        daily = daily * (1.0 + season.trend * np.linspace(0.0, 1.0, len(days)))
        hourly = np.asarray(season.hourly, dtype=np.float64)
        hourly = hourly / hourly.mean()
        intensity = (daily[:, None] * hourly[None, :]).ravel()
        cum = np.concatenate([[0.0], np.cumsum(intensity)])
        self.cum = cum * (window.n_days / cum[-1])
        self.edges = window.start_ts + HOUR * np.arange(len(cum), dtype=np.float64)

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        """``G(t)``: effective days elapsed since the window start."""
        return np.interp(np.asarray(t, dtype=np.float64), self.edges, self.cum)

    def sample(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """One event time per pair, drawn from the intensity restricted to ``[lo, hi]``."""
        g_lo = self.cumulative(lo)
        g_hi = self.cumulative(hi)
        u = g_lo + rng.random(len(g_lo)) * (g_hi - g_lo)
        t = np.floor(np.interp(u, self.cum, self.edges)).astype(np.int64)
        return np.clip(t, lo, hi)
