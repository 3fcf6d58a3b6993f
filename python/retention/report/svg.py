"""Small inline-SVG charts for the static report: line charts, bar charts, a heatmap.

Hand-written SVG instead of a plotting library: the report must open offline
with nothing but the HTML file, the charts stay small (a few kB each) and every
mark carries a class (``series``, ``bar``, ``cell``, ``cell-pending`` ...) that
the browser test can look for. Missing values (None or NaN) are never drawn as
0: lines break, bars are left out, heatmap cells get their own status.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#17becf",
    "#bcbd22",
)
# Sequential blues; the 0 end is tinted, not white, so a 0% cell never looks empty.
BLUES = ("#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b")
FONT = "font-family:system-ui,-apple-system,'Segoe UI',DejaVu Sans,sans-serif"


def is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def percent(value: float) -> str:
    return f"{value:.0%}"


def _num(value: float) -> str:
    """Compact coordinates: 1 decimal, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"tick range must be finite, got {lo}..{hi}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + 1
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def interpolate(stops: Sequence[str], t: float) -> str:
    """Colour at t in [0, 1] along evenly spaced hex stops."""
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    a = [int(stops[i][k : k + 2], 16) for k in (1, 3, 5)]
    b = [int(stops[i + 1][k : k + 2], 16) for k in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def _luminance(color: str) -> float:
    r, g, b = (int(color[k : k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _text(x, y, text, *, size=11, anchor="start", color="#333", weight=None, extra="") -> str:
    weight_attr = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{color}"{weight_attr}{extra}>{escape(str(text))}</text>'
    )


def _svg(width: int, height: int, title: str, body: list[str], kind: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" style="{FONT}">'
        f"<title>{escape(title)}</title>"
        + _text(8, 16, title, size=13, weight="600", color="#111")
        + "".join(body)
        + "</svg>"
    )


@dataclass
class Series:
    """One line: points with a missing y break the line instead of dropping to 0."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    color: str | None = None
    width: float = 2.0
    dash: str | None = None
    markers: bool = False
    opacity: float = 1.0
    legend: bool = True


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    x_format: Callable[[float], str] = lambda v: f"{v:g}",
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    diagonal: bool = False,
    width: int = 460,
    height: int = 320,
) -> str:
    """A line chart; ``diagonal`` adds the y = x reference (ROC, calibration)."""
    points = [
        (float(x), float(y))
        for s in series
        for x, y in zip(s.xs, s.ys, strict=True)
        if not is_missing(x) and not is_missing(y)
    ]
    if not points:
        raise ValueError(f"{title}: no points to draw")
    legend = [s for s in series if s.legend]
    # Two legend columns when the names fit in half the plot width, else one.
    columns = 2 if max((len(s.name) for s in legend), default=0) * 6 + 26 < (width - 70) / 2 else 1
    legend_rows = math.ceil(len(legend) / columns)
    axes = _Axes.fit(points, x_range, y_range, width, height + 16 * legend_rows, legend_rows)
    body = [
        f'<rect class="plot-area" x="{axes.left}" y="{axes.top}" width="{axes.plot_w}" '
        f'height="{axes.plot_h}" fill="#fafafa" stroke="#ccc"/>',
        *_grid(axes, x_format, y_format),
        *_axis_labels(axes, x_label, y_label),
    ]
    if diagonal:
        body.append(_diagonal(axes))
    body += [
        _series_group(s, s.color or PALETTE[i % len(PALETTE)], axes) for i, s in enumerate(series)
    ]
    body += _line_legend(legend, series, axes, columns)
    return _svg(width, axes.height, title, body, "line")


@dataclass
class _Axes:
    """The plot area of a line chart and its data ranges and ticks."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    x_ticks: list[float]
    y_ticks: list[float]
    width: int
    height: int
    bottom: int
    left: int = 56
    right: int = 14
    top: int = 30

    @classmethod
    def fit(cls, points, x_range, y_range, width: int, height: int, legend_rows: int) -> _Axes:
        """Ranges from the data unless given; a range from the data extends to round ticks."""
        x_lo, x_hi = x_range or (min(p[0] for p in points), max(p[0] for p in points))
        y_lo, y_hi = y_range or (min(0.0, min(p[1] for p in points)), max(p[1] for p in points))
        x_ticks, y_ticks = nice_ticks(x_lo, x_hi), nice_ticks(y_lo, y_hi)
        if x_range is None:
            x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
        if y_range is None:
            y_lo, y_hi = min(y_lo, y_ticks[0]), max(y_hi, y_ticks[-1])
        bottom = 44 + 16 * legend_rows
        return cls(x_lo, x_hi, y_lo, y_hi, x_ticks, y_ticks, width, height, bottom)

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    def sx(self, x: float) -> float:
        return self.left + (x - self.x_lo) / ((self.x_hi - self.x_lo) or 1.0) * self.plot_w

    def sy(self, y: float) -> float:
        return (
            self.top
            + self.plot_h
            - (y - self.y_lo) / ((self.y_hi - self.y_lo) or 1.0) * self.plot_h
        )


def _grid(axes: _Axes, x_format, y_format) -> list[str]:
    """Grid lines and tick labels at the ticks inside the ranges."""
    body = []
    left, top, plot_w, plot_h = axes.left, axes.top, axes.plot_w, axes.plot_h
    for t in axes.y_ticks:
        if axes.y_lo - 1e-9 <= t <= axes.y_hi + 1e-9:
            y = axes.sy(t)
            body.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" '
                'stroke="#e4e4e4"/>'
            )
            body.append(_text(left - 6, y + 4, y_format(t), size=10, anchor="end", color="#555"))
    for t in axes.x_ticks:
        if axes.x_lo - 1e-9 <= t <= axes.x_hi + 1e-9:
            x = axes.sx(t)
            body.append(
                f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{top + plot_h}" '
                'stroke="#eee"/>'
            )
            body.append(_text(x, top + plot_h + 14, x_format(t), size=10, anchor="middle"))
    return body


def _axis_labels(axes: _Axes, x_label: str, y_label: str) -> list[str]:
    body = []
    middle_y = axes.top + axes.plot_h / 2
    if x_label:
        body.append(
            _text(
                axes.left + axes.plot_w / 2, axes.top + axes.plot_h + 30, x_label, anchor="middle"
            )
        )
    if y_label:
        body.append(
            _text(
                14,
                middle_y,
                y_label,
                anchor="middle",
                extra=f' transform="rotate(-90 14 {_num(middle_y)})"',
            )
        )
    return body


def _diagonal(axes: _Axes) -> str:
    lo, hi = max(axes.x_lo, axes.y_lo), min(axes.x_hi, axes.y_hi)
    return (
        f'<line class="reference" x1="{_num(axes.sx(lo))}" y1="{_num(axes.sy(lo))}" '
        f'x2="{_num(axes.sx(hi))}" y2="{_num(axes.sy(hi))}" stroke="#999" stroke-dasharray="4 3"/>'
    )


def _series_group(s: Series, color: str, axes: _Axes) -> str:
    """One series: a path per run of present points (a missing point breaks the line),
    dots at the points when asked, and a dot for a point standing alone."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(s.xs, s.ys, strict=True):
        if is_missing(x) or is_missing(y):
            runs.append([])
        else:
            runs[-1].append((axes.sx(float(x)), axes.sy(float(y))))
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    parts = [f'<g class="series" data-name="{escape(s.name)}" opacity="{s.opacity}">']
    for run in runs:
        if len(run) >= 2:
            d = "M" + "L".join(f"{_num(x)},{_num(y)}" for x, y in run)
            parts.append(
                f'<path d="{d}" fill="none" stroke="{color}" '
                f'stroke-width="{s.width}"{dash} stroke-linejoin="round"/>'
            )
        if s.markers or len(run) == 1:
            parts += [
                f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2.8" fill="{color}"/>' for x, y in run
            ]
    parts.append("</g>")
    return "".join(parts)


def _line_legend(legend: list[Series], series: Sequence[Series], axes: _Axes, columns: int):
    body = []
    for i, s in enumerate(legend):
        color = s.color or PALETTE[series.index(s) % len(PALETTE)]
        lx = axes.left + (i % columns) * (axes.plot_w / 2)
        ly = axes.top + axes.plot_h + 44 + 16 * (i // columns)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        body.append(
            f'<line x1="{_num(lx)}" x2="{_num(lx + 18)}" y1="{_num(ly - 4)}" y2="{_num(ly - 4)}" '
            f'stroke="{color}" stroke-width="{max(s.width, 2)}"{dash}/>'
        )
        body.append(_text(lx + 22, ly, s.name, size=10))
    return body


def bar_chart(
    labels: Sequence[str],
    groups: dict[str, Sequence[float | None]],
    *,
    title: str,
    value_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 460,
    bar_height: int = 14,
    colors: Sequence[str] = PALETTE,
) -> str:
    """Horizontal bars, one group of bars per label (one bar per entry of ``groups``)."""
    values = [v for vs in groups.values() for v in vs if not is_missing(v)]
    if not values:
        raise ValueError(f"{title}: no values to draw")
    names = list(groups)
    label_w = min(180, 12 + 7 * max(len(str(label)) for label in labels))
    left, right, top = label_w, 60, 30
    group_h = bar_height * len(names) + 8
    legend_h = 18 if len(names) > 1 else 0
    height = top + group_h * len(labels) + legend_h + 8
    hi = max(max(values), 0.0) or 1.0
    lo = min(min(values), 0.0)
    plot_w = width - left - right

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    body = []
    for row, label in enumerate(labels):
        y0 = top + row * group_h
        body.append(_text(left - 6, y0 + group_h / 2 + 3, label, size=11, anchor="end"))
        for k, name in enumerate(names):
            value = groups[name][row]
            y = y0 + 4 + k * bar_height
            if is_missing(value):
                body.append(_text(sx(0) + 4, y + bar_height - 3, "n/a", size=10, color="#888"))
                continue
            x0, x1 = sorted((sx(0), sx(float(value))))
            body.append(
                f'<rect class="bar" data-series="{escape(name)}" x="{_num(x0)}" y="{_num(y)}" '
                f'width="{_num(max(x1 - x0, 0.5))}" height="{bar_height - 2}" '
                f'fill="{colors[k % len(colors)]}"><title>{escape(f"{label} {name}")}: '
                f"{escape(value_format(float(value)))}</title></rect>"
            )
            body.append(_text(x1 + 4, y + bar_height - 3, value_format(float(value)), size=10))
    body.append(
        f'<line x1="{_num(sx(0))}" x2="{_num(sx(0))}" y1="{top}" '
        f'y2="{top + group_h * len(labels)}" stroke="#888"/>'
    )
    if len(names) > 1:
        ly = top + group_h * len(labels) + 14
        for k, name in enumerate(names):
            lx = left + k * 150
            body.append(
                f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" '
                f'fill="{colors[k % len(colors)]}"/>'
            )
            body.append(_text(lx + 14, ly, name, size=10))
    return _svg(width, height, title, body, "bar")


PENDING, SUPPRESSED, VALUE = "pending", "suppressed", "value"


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    status: Sequence[Sequence[str]],
    *,
    title: str,
    x_label: str = "",
    value_format: Callable[[float], str] = percent,
    color_max: float = 1.0,
    cell: int = 26,
    id_prefix: str = "hm",
) -> str:
    """A grid of cells. ``status`` per cell: "value" (coloured by its value, 0 included),
    "pending" (the period has not ended: hatched, no number) or "suppressed" (too few
    customers: grey). A value cell whose value is missing is an error, not a blank."""
    if len(values) != len(row_labels) or len(status) != len(row_labels):
        raise ValueError(f"{title}: {len(row_labels)} row labels for {len(values)} rows")
    grid = _Grid(
        title, list(col_labels), value_format, color_max, cell, f"{id_prefix}-pending",
        left=12 + 7 * max((len(label) for label in row_labels), default=4),
    )  # fmt: skip
    body = [
        "<defs>"
        f'<pattern id="{grid.pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#b5b5b5" stroke-width="2"/></pattern>'
        "</defs>",
        *grid.column_labels(x_label),
    ]
    for i, (label, row_values, row_status) in enumerate(
        zip(row_labels, values, status, strict=True)
    ):
        y = grid.top + i * cell
        body.append(_text(grid.left - 6, y + cell / 2 + 4, label, size=10, anchor="end"))
        for j, (value, state) in enumerate(zip(row_values, row_status, strict=True)):
            body += grid.cell_marks(label, j, y, value, state)
    legend, legend_right = grid.legend(grid.top + cell * len(row_labels) + 18)
    width = max(grid.left + cell * len(col_labels) + 12, legend_right)
    height = grid.top + cell * len(row_labels) + 40 + 28
    return _svg(width, height, title, body + legend, "heatmap")


@dataclass
class _Grid:
    """Geometry and marks of a heatmap's cells and legend."""

    title: str
    col_labels: list[str]
    value_format: Callable[[float], str]
    color_max: float
    cell: int
    pattern: str
    left: int
    top: int = 50

    def column_labels(self, x_label: str) -> list[str]:
        body = []
        step = max(1, math.ceil(len(self.col_labels) / 26))
        for j, label in enumerate(self.col_labels):
            if j % step == 0:
                x = self.left + self.cell * (j + 0.5)
                body.append(_text(x, self.top - 6, label, size=10, anchor="middle"))
        if x_label:
            body.append(_text(self.left, self.top - 22, x_label, size=11))
        return body

    def cell_marks(self, label: str, j: int, y: float, value, state: str) -> list[str]:
        x = self.left + j * self.cell
        rect = f'x="{x}" y="{y}" width="{self.cell - 1}" height="{self.cell - 1}"'
        if state == PENDING:
            return [
                f'<rect class="cell cell-pending" {rect} fill="url(#{self.pattern})">'
                "<title>not yet elapsed</title></rect>"
            ]
        if state == SUPPRESSED:
            return [
                f'<rect class="cell cell-suppressed" {rect} fill="#9e9e9e">'
                "<title>suppressed: cohort below the minimum group size</title></rect>"
            ]
        if state != VALUE:
            raise ValueError(f"{self.title}: unknown cell status {state!r}")
        if is_missing(value):
            raise ValueError(f"{self.title}: cell {label}/{self.col_labels[j]} has no value")
        return self._value_cell(label, j, x, y, rect, float(value))

    def _value_cell(self, label: str, j: int, x: float, y: float, rect: str, value: float):
        color = interpolate(BLUES, value / self.color_max if self.color_max else 0.0)
        ink = "#fff" if _luminance(color) < 0.5 else "#1a1a1a"
        marks = [
            f'<rect class="cell cell-value" {rect} fill="{color}">'
            f"<title>{escape(label)}, {escape(self.col_labels[j])}: "
            f"{escape(self.value_format(value))}</title></rect>"
        ]
        if self.cell >= 22:
            marks.append(
                _text(
                    x + (self.cell - 1) / 2,
                    y + self.cell / 2 + 3,
                    self.value_format(value).rstrip("%"),
                    size=8,
                    anchor="middle",
                    color=ink,
                )
            )
        return marks

    def legend(self, ly: float) -> tuple[list[str], float]:
        """The colour scale, then the two kinds of cells without a number; and where the
        legend ends on the right."""
        steps, fmt = 10, self.value_format
        body = [
            f'<rect x="{self.left + k * 14}" y="{ly}" width="14" height="12" '
            f'fill="{interpolate(BLUES, k / (steps - 1))}"/>'
            for k in range(steps)
        ]
        body.append(_text(self.left, ly + 24, fmt(0.0), size=10))
        body.append(
            _text(self.left + steps * 14, ly + 24, fmt(self.color_max), size=10, anchor="end")
        )
        lx = self.left + steps * 14 + 24
        body.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="url(#{self.pattern})" '
            'stroke="#999"/>'
        )
        body.append(_text(lx + 16, ly + 10, "not yet elapsed (no data yet)", size=10))
        lx += 190
        body.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="#9e9e9e"/>')
        body.append(_text(lx + 16, ly + 10, "suppressed (small cohort)", size=10))
        return body, lx + 170
