"""What every section is made of: cell formats, tables, cards, figures, "not available".

A section module computes numbers from the marts and hands the templates ready-to-print
strings (``Table``, ``Card``) and charts (SVG text from ``retention.report.svg``, wrapped
in ``Figure``); the templates only lay them out, and Jinja2 escapes every string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from markupsafe import Markup

from retention.report import svg
from retention.report.data import Marts
from retention.report.templating import render

NOT_AVAILABLE = "Not available for this data"
DASH = "–"  # a missing value: never 0, never "nan"


# ---------------------------------------------------------------- cell formats


def is_missing(value) -> bool:
    return svg.is_missing(value) if not isinstance(value, str) else False


def fmt_int(value) -> str:
    return DASH if is_missing(value) else f"{int(value):,}"


def fmt_pct(value, digits: int = 1) -> str:
    return DASH if is_missing(value) else f"{float(value):.{digits}%}"


def fmt_num(value, digits: int = 3) -> str:
    return DASH if is_missing(value) else f"{float(value):,.{digits}f}"


def fmt_money(value) -> str:
    return DASH if is_missing(value) else f"{float(value):,.0f}"


def fmt_text(value) -> str:
    return DASH if value is None or is_missing(value) else str(value)


def fmt_date(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    return str(pd.Timestamp(value).date())


# ---------------------------------------------------------------- building blocks


@dataclass
class Section:
    """One section of the page: ``body`` is the rendered HTML of its template."""

    key: str
    title: str
    body: Markup
    available: bool

    @classmethod
    def unavailable(cls, key: str, title: str, reason: str) -> Section:
        """The section's marts are missing or empty: say so, and why."""
        return cls(key, title, render("unavailable.html.j2", reason=reason), False)


@dataclass
class Table:
    """A table of formatted cells; ``highlight`` marks rows (the chosen model, ...)."""

    headers: list[str]
    rows: list[list[str]]
    highlight: list[bool] = field(default_factory=list)
    css: str = ""

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        formats: Mapping[str, Callable[[object], str]],
        headers: Mapping[str, str],
        *,
        highlight: pd.Series | None = None,
        css: str = "",
    ) -> Table:
        """One column per entry of ``formats`` (column -> cell format), titled by
        ``headers`` (default: the column name)."""
        rows = [
            [str(fmt(row[column])) for column, fmt in formats.items()]
            for _, row in frame.iterrows()
        ]
        marks = [] if highlight is None else [bool(v) for v in highlight]
        return cls([headers.get(c, c) for c in formats], rows, marks, css)


@dataclass
class Card:
    label: str
    value: str
    note: str = ""


@dataclass
class Figure:
    """A drawn chart (SVG text) with an optional caption, or why it could not be drawn."""

    svg: Markup | None
    caption: str = ""
    reason: str = ""  # set when there was nothing to draw


def drawn(svg_text: str, caption: str = "") -> Figure:
    """A chart that must draw: its errors are bugs, not data (the cohort heatmap)."""
    return Figure(Markup(svg_text), caption)


def chart(render_svg: Callable[[], str], caption: str = "") -> Figure:
    """A chart, or a note when its data has no point to draw (never a crash)."""
    try:
        return Figure(Markup(render_svg()), caption)
    except ValueError as error:
        return Figure(None, reason=str(error))


def missing_reason(marts: Marts, *tables: str) -> str | None:
    """Why these marts cannot feed a section, or None when they all have rows."""
    for table in tables:
        if table not in marts.tables:
            return f"marts.{table} was not built for this source (disabled or not applicable)."
        if marts.tables[table] == 0:
            return f"marts.{table} has no rows in this build."
    return None
