"""The report in a real browser: headless Chromium lays it out and every chart is drawn.

Not a mock: Debian's chromium renders the page, and a measuring script (added to a copy
of the report, never to the report itself) records what the browser actually drew, after
layout: for every chart, its size, each mark (line, dot, bar, heatmap cell) with its box and
its computed paint, the names of its series, and every label's box. The checks are
properties a broken chart violates, not pixel counts of one build:

- every chart has marks, and every mark is painted (a visible fill or stroke) with a
  non-empty box inside its chart;
- every label lies inside its chart (nothing cut off or overflowing), and the page does
  not scroll sideways;
- the series the marts call for are there by name: every model of the champion run on the
  ROC, precision-recall and lift charts, the cohort means, each segment.

Chromium missing is a failure, not a skip: `make test` installs it (the `browser` target).
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from retention.report import build_report

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("RETENTION_CHROMIUM", "/usr/bin/chromium"))
WIDTH, HEIGHT = 1400, 6000
TOLERANCE = 1.0  # px: anti-aliasing and rounding at a chart's edge
MARKER = 4.5  # px: a line's dots (radius 2.8) and stroke may reach past its axes

MEASURE = """
<script>
(() => {
  const painted = (el) => {
    const s = getComputedStyle(el);
    const fill = s.fill !== 'none' && !/rgba\\(.*, 0\\)$/.test(s.fill);
    const stroke = s.stroke !== 'none' && parseFloat(s.strokeWidth) > 0;
    return s.visibility === 'visible' && s.display !== 'none' && parseFloat(s.opacity) > 0
      && (fill || stroke);
  };
  const charts = [...document.querySelectorAll('svg.chart')].map((svg) => {
    const frame = svg.getBoundingClientRect();
    // Boxes after layout and transforms (a rotated axis title too), relative to the chart.
    const box = (el) => {
      const b = el.getBoundingClientRect();
      return {x: b.x - frame.x, y: b.y - frame.y, w: b.width, h: b.height};
    };
    const marks = [...svg.querySelectorAll('g.series path, g.series circle, rect.bar, rect.cell')];
    const plot = svg.querySelector('rect.plot-area');
    return {
      kind: svg.getAttribute('class'),
      title: (svg.querySelector('title') || {}).textContent,
      section: svg.closest('section').id,
      view: {w: frame.width, h: frame.height},
      plot: plot ? box(plot) : null,
      marks: marks.map((m) => ({
        tag: m.tagName, box: box(m), painted: painted(m), line: !!m.closest('g.series'),
      })),
      labels: [...svg.querySelectorAll('text')].map((t) => ({text: t.textContent, box: box(t)})),
      series: [...svg.querySelectorAll('g.series')].map((g) => g.dataset.name),
      bar_series: [...new Set([...svg.querySelectorAll('rect.bar')].map((r) => r.dataset.series))],
      pending: svg.querySelectorAll('rect.cell-pending').length,
    };
  });
  const page = {scroll_width: document.scrollingElement.scrollWidth, view_width: innerWidth};
  const out = document.createElement('pre');
  out.id = 'render-check';
  out.textContent = JSON.stringify({charts, page});
  document.body.appendChild(out);
})();
</script>
"""


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: the report's browser test needs Debian's chromium. "
            "`make browser` (part of `make test`) installs it."
        )
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-extensions", f"--window-size={WIDTH},{HEIGHT}", *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"chromium failed: {result.stderr[-2000:]}"
    return result


def measure(page: Path) -> dict:
    """What Chromium drew for the report at ``page`` (a copy with MEASURE appended)."""
    text = page.read_text()
    assert text.count("</body>") == 1
    measured = page.with_name(f"measured-{page.name}")
    measured.write_text(text.replace("</body>", MEASURE + "</body>"))
    dom = chromium("--dump-dom", measured.as_uri()).stdout
    match = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert match, "the measuring script did not run (is JavaScript off?)"
    return json.loads(html_lib.unescape(match.group(1)))


@pytest.fixture(scope="module")
def drawn(small_build, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("browser")
    report = build_report(small_build.database, folder / "report.html", small_build.published)
    return measure(report.path)


def published(small_build, sql: str) -> list[tuple]:
    current = (small_build.published / small_build.database.stem / "current").resolve()
    with duckdb.connect() as con:
        return con.execute(sql.replace("{current}", str(current))).fetchall()


def inside(b: dict, area: dict, margin: float = TOLERANCE) -> bool:
    x, y = area.get("x", 0.0), area.get("y", 0.0)
    return (
        b["x"] >= x - margin
        and b["y"] >= y - margin
        and b["x"] + b["w"] <= x + area["w"] + margin
        and b["y"] + b["h"] <= y + area["h"] + margin
    )


def undrawn_marks(chart: dict) -> list[dict]:
    """Marks without a visible paint, with an empty box, outside their chart, or (a line's
    marks) outside the plot area between its axes."""
    return [
        m
        for m in chart["marks"]
        if not m["painted"]
        or not (m["box"]["w"] > 0 or m["box"]["h"] > 0)
        or not inside(m["box"], chart["view"])
        or (m["line"] and chart["plot"] and not inside(m["box"], chart["plot"], MARKER))
    ]


def overflowing_labels(chart: dict) -> list[dict]:
    return [t for t in chart["labels"] if not inside(t["box"], chart["view"])]


def by_title(drawn: dict, prefix: str) -> dict:
    [chart] = [c for c in drawn["charts"] if c["title"].startswith(prefix)]
    return chart


def test_every_chart_is_laid_out_with_painted_marks_inside_it(drawn):
    charts = drawn["charts"]
    kinds = [c["kind"] for c in charts]
    assert kinds.count("chart chart-heatmap") == 1
    assert kinds.count("chart chart-line") >= 6  # curves, segments, ROC, PR, calibration, lift
    assert kinds.count("chart chart-bar") >= 3
    for chart in charts:
        assert chart["view"]["w"] > 0 and chart["view"]["h"] > 0, chart["title"]
        assert chart["marks"], f"{chart['title']}: no marks"
        bad = undrawn_marks(chart)
        assert not bad, f"{chart['title']}: {len(bad)} marks not drawn, e.g. {bad[:3]}"
    assert by_title(drawn, "Monthly cohorts")["pending"] > 0  # not-yet-elapsed cells


def test_no_label_overflows_its_chart_and_the_page_does_not_scroll_sideways(drawn):
    for chart in drawn["charts"]:
        assert chart["labels"], chart["title"]
        bad = overflowing_labels(chart)
        assert not bad, f"{chart['title']}: labels outside the chart: {bad[:3]}"
    page = drawn["page"]
    assert page["scroll_width"] <= page["view_width"], page


def test_the_curves_draw_every_model_of_the_champion_run(small_build, drawn):
    """Every model whose deciles the curves mart stores for the champion run (a constant
    score has no ranking to draw) has its line, by name, on each decile chart."""
    models = {
        name
        for (name,) in published(
            small_build,
            "select distinct c.model_name "
            "from read_parquet('{current}/fct_model_evaluation_curves.parquet') c "
            "join read_parquet('{current}/fct_model_runs.parquet') r using (model_version) "
            "where r.is_champion and c.curve = 'lift_by_decile' "
            "and c.model_name <> 'constant_rate'",
        )
    }
    assert len(models) >= 4
    for title in ("ROC", "Precision-recall", "Lift by decile"):
        series = {name.split(" ")[0] for name in by_title(drawn, title)["series"]}
        assert models <= series, f"{title}: missing {models - series}"


def test_the_cohort_and_segment_charts_name_their_series(small_build, drawn):
    curves = by_title(drawn, "Retention curves")["series"]
    assert "all cohorts, in month N (weighted)" in curves
    assert "all cohorts, in month N or later" in curves
    segments = {
        name
        for (name,) in published(
            small_build,
            "select segment_name from read_parquet('{current}/dim_segments.parquet') "
            "where not is_suppressed",
        )
    }
    assert segments and set(by_title(drawn, "Retention by segment")["series"]) <= segments
    assert by_title(drawn, "Churn by segment")["bar_series"] == [
        "backtest churn",
        "predicted churn",
    ]


def test_the_checks_catch_a_broken_chart(tmp_path):
    """The same measurements on a hand-made page with the faults they exist for: a line
    drawn off the chart, an unpainted bar, a label cut off at the edge, a page wider than
    the window. (The checks above passing is only meaningful if these fail.)"""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><section id="s">'
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-line" width="200" '
        'height="100" viewBox="0 0 200 100"><title>broken</title>'
        '<g class="series" data-name="off"><path d="M150,50L400,60" stroke="#000" '
        'fill="none"/></g>'
        '<rect class="bar" data-series="b" x="10" y="10" width="20" height="10" fill="none"/>'
        '<text x="190" y="50" font-size="12">a label that does not fit</text></svg>'
        f'<div style="width:{WIDTH + 200}px">wide</div></section></body></html>'
    )
    broken = measure(page)
    [chart] = broken["charts"]
    assert {m["tag"] for m in undrawn_marks(chart)} == {"path", "rect"}
    assert [t["text"] for t in overflowing_labels(chart)] == ["a label that does not fit"]
    assert broken["page"]["scroll_width"] > broken["page"]["view_width"]


def test_chromium_is_the_debian_browser():
    """Guard against a stub: the binary must report a Chromium version."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: `make browser` (part of `make test`) installs it.")
    result = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "Chromium" in result.stdout, result
