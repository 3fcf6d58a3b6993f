"""The report in a real browser: headless Chromium renders it and the charts are drawn.

Not a mock: Debian's chromium lays the page out, a screenshot must show substantial
coloured content, and a measuring script (added to a copy of the report, never to the
report itself) records what the browser actually drew: every chart's size and how
many of its marks have a non-empty bounding box. Chromium missing is a failure, not
a skip: `make test` installs it (the `browser` target).
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from retention.report import build_report

CHROMIUM = Path(os.environ.get("RETENTION_CHROMIUM", "/usr/bin/chromium"))
WIDTH, HEIGHT = 1400, 6000

MEASURE = """
<script>
(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map((svg) => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('path, circle, rect.bar, rect.cell')];
    const drawn = marks.filter((m) => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
    return {
      kind: svg.getAttribute('class'),
      title: (svg.querySelector('title') || {}).textContent,
      width: box.width, height: box.height, marks: marks.length, drawn: drawn.length,
      pending: svg.querySelectorAll('rect.cell-pending').length,
    };
  });
  const out = document.createElement('pre');
  out.id = 'render-check';
  out.textContent = JSON.stringify(charts);
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


@pytest.fixture(scope="module")
def rendered(small_build, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    report = build_report(small_build.database, folder / "report.html", small_build.published)
    page = report.path.read_text()
    assert page.count("</body>") == 1
    measured = folder / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE + "</body>"))
    return report.path, measured


def test_charts_have_a_size_and_drawn_marks_after_layout(rendered):
    _, measured = rendered
    dom = chromium("--dump-dom", measured.as_uri()).stdout
    match = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert match, "the measuring script did not run (is JavaScript off?)"
    charts = json.loads(html_lib.unescape(match.group(1)))
    kinds = [c["kind"] for c in charts]
    assert kinds.count("chart chart-heatmap") == 1
    assert kinds.count("chart chart-line") >= 6  # curves, segments, ROC, PR, calibration, lift
    assert kinds.count("chart chart-bar") >= 3
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 80, chart
        assert chart["marks"] > 0 and chart["drawn"] == chart["marks"], chart
    [heat] = [c for c in charts if c["kind"] == "chart chart-heatmap"]
    assert heat["pending"] > 0  # cells not yet elapsed, drawn hatched
    titles = " ".join(c["title"] for c in charts)
    for name in ("ROC", "Precision-recall", "Calibration", "Lift", "Retention curves"):
        assert name in titles


def test_screenshot_shows_coloured_charts(rendered, tmp_path):
    """Thresholds measured on the demo-like build: the report gives ~10% non-white and
    ~1.7% saturated pixels in ~40 colour families; the same page with its SVG removed
    gives ~5%, 0% and 0 (text, tables and the header are not saturated)."""
    import numpy as np
    from PIL import Image

    report, _ = rendered
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    non_white = (pixels.min(axis=2) < 235).mean()
    saturated = pixels.max(axis=2) - pixels.min(axis=2) > 60  # chart colours, not text
    families = {tuple(p) for p in (pixels[saturated] // 64).tolist()}
    assert non_white > 0.06, f"{non_white:.1%} non-white pixels"
    assert saturated.mean() > 0.008, f"{saturated.mean():.2%} coloured pixels"
    assert len(families) >= 8, f"only {len(families)} colour families"


def test_chromium_is_the_debian_browser():
    """Guard against a stub: the binary must report a Chromium version."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: `make browser` (part of `make test`) installs it.")
    result = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "Chromium" in result.stdout, result
