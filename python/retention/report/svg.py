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
    left, right, top = 56, 14, 30
    # Two legend columns when the names fit in half the plot width, else one.
    columns = 2 if max((len(s.name) for s in legend), default=0) * 6 + 26 < (width - 70) / 2 else 1
    bottom = 44 + 16 * math.ceil(len(legend) / columns)
    height += 16 * math.ceil(len(legend) / columns)
    x_lo, x_hi = x_range or (min(p[0] for p in points), max(p[0] for p in points))
    y_lo, y_hi = y_range or (min(0.0, min(p[1] for p in points)), max(p[1] for p in points))
    x_ticks, y_ticks = nice_ticks(x_lo, x_hi), nice_ticks(y_lo, y_hi)
    if x_range is None:
        x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
    if y_range is None:
        y_lo, y_hi = min(y_lo, y_ticks[0]), max(y_hi, y_ticks[-1])
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_lo) / x_span * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (y - y_lo) / y_span * plot_h

    body = [
        f'<rect class="plot-area" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
        'fill="#fafafa" stroke="#ccc"/>'
    ]
    for t in y_ticks:
        if y_lo - 1e-9 <= t <= y_hi + 1e-9:
            y = sy(t)
            body.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" '
                'stroke="#e4e4e4"/>'
            )
            body.append(_text(left - 6, y + 4, y_format(t), size=10, anchor="end", color="#555"))
    for t in x_ticks:
        if x_lo - 1e-9 <= t <= x_hi + 1e-9:
            x = sx(t)
            body.append(
                f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{top + plot_h}" '
                'stroke="#eee"/>'
            )
            body.append(_text(x, top + plot_h + 14, x_format(t), size=10, anchor="middle"))
    if x_label:
        body.append(_text(left + plot_w / 2, top + plot_h + 30, x_label, anchor="middle"))
    if y_label:
        body.append(
            _text(
                14,
                top + plot_h / 2,
                y_label,
                anchor="middle",
                extra=f' transform="rotate(-90 14 {_num(top + plot_h / 2)})"',
            )
        )
    if diagonal:
        lo, hi = max(x_lo, y_lo), min(x_hi, y_hi)
        body.append(
            f'<line class="reference" x1="{_num(sx(lo))}" y1="{_num(sy(lo))}" '
            f'x2="{_num(sx(hi))}" y2="{_num(sy(hi))}" stroke="#999" stroke-dasharray="4 3"/>'
        )
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in zip(s.xs, s.ys, strict=True):
            if is_missing(x) or is_missing(y):
                runs.append([])
            else:
                runs[-1].append((sx(float(x)), sy(float(y))))
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
                    f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2.8" fill="{color}"/>'
                    for x, y in run
                ]
        parts.append("</g>")
        body.append("".join(parts))
    for i, s in enumerate(legend):
        color = s.color or PALETTE[series.index(s) % len(PALETTE)]
        lx = left + (i % columns) * (plot_w / 2)
        ly = top + plot_h + 44 + 16 * (i // columns)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        body.append(
            f'<line x1="{_num(lx)}" x2="{_num(lx + 18)}" y1="{_num(ly - 4)}" y2="{_num(ly - 4)}" '
            f'stroke="{color}" stroke-width="{max(s.width, 2)}"{dash}/>'
        )
        body.append(_text(lx + 22, ly, s.name, size=10))
    return _svg(width, height, title, body, "line")


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
    left = 12 + 7 * max((len(label) for label in row_labels), default=4)
    top, right = 50, 12
    width = left + cell * len(col_labels) + right
    grid_h = cell * len(row_labels)
    height = top + grid_h + 40 + 28
    pattern = f"{id_prefix}-pending"
    body = [
        "<defs>"
        f'<pattern id="{pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#b5b5b5" stroke-width="2"/></pattern>'
        "</defs>"
    ]
    step = max(1, math.ceil(len(col_labels) / 26))
    for j, label in enumerate(col_labels):
        if j % step == 0:
            body.append(_text(left + cell * (j + 0.5), top - 6, label, size=10, anchor="middle"))
    if x_label:
        body.append(_text(left, top - 22, x_label, size=11))
    for i, (label, row_values, row_status) in enumerate(
        zip(row_labels, values, status, strict=True)
    ):
        y = top + i * cell
        body.append(_text(left - 6, y + cell / 2 + 4, label, size=10, anchor="end"))
        for j, (value, state) in enumerate(zip(row_values, row_status, strict=True)):
            x = left + j * cell
            rect = f'x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}"'
            if state == PENDING:
                body.append(
                    f'<rect class="cell cell-pending" {rect} fill="url(#{pattern})">'
                    "<title>not yet elapsed</title></rect>"
                )
            elif state == SUPPRESSED:
                body.append(
                    f'<rect class="cell cell-suppressed" {rect} fill="#9e9e9e">'
                    "<title>suppressed: cohort below the minimum group size</title></rect>"
                )
            elif state == VALUE:
                if is_missing(value):
                    raise ValueError(f"{title}: cell {label}/{col_labels[j]} has no value")
                color = interpolate(BLUES, float(value) / color_max if color_max else 0.0)
                ink = "#fff" if _luminance(color) < 0.5 else "#1a1a1a"
                body.append(
                    f'<rect class="cell cell-value" {rect} fill="{color}">'
                    f"<title>{escape(label)}, {escape(col_labels[j])}: "
                    f"{escape(value_format(float(value)))}</title></rect>"
                )
                if cell >= 22:
                    body.append(
                        _text(
                            x + (cell - 1) / 2,
                            y + cell / 2 + 3,
                            value_format(float(value)).rstrip("%"),
                            size=8,
                            anchor="middle",
                            color=ink,
                        )
                    )
            else:
                raise ValueError(f"{title}: unknown cell status {state!r}")
    # Legend: the colour scale, then the two kinds of cells without a number.
    ly = top + grid_h + 18
    steps = 10
    for k in range(steps):
        body.append(
            f'<rect x="{left + k * 14}" y="{ly}" width="14" height="12" '
            f'fill="{interpolate(BLUES, k / (steps - 1))}"/>'
        )
    body.append(_text(left, ly + 24, value_format(0.0), size=10))
    body.append(_text(left + steps * 14, ly + 24, value_format(color_max), size=10, anchor="end"))
    lx = left + steps * 14 + 24
    body.append(
        f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="url(#{pattern})" stroke="#999"/>'
    )
    body.append(_text(lx + 16, ly + 10, "not yet elapsed (no data yet)", size=10))
    lx += 190
    body.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="#9e9e9e"/>')
    body.append(_text(lx + 16, ly + 10, "suppressed (small cohort)", size=10))
    width = max(width, lx + 170)
    return _svg(width, height, title, body, "heatmap")
