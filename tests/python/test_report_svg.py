"""The report's SVG helpers: ticks, colours, and that missing values never draw as 0."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from retention.report import svg

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)  # well-formed XML, or this raises


def classes(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def test_nice_ticks_cover_the_range_with_round_steps():
    assert svg.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0, 23) == [0, 5, 10, 15, 20]
    ticks = svg.nice_ticks(0.37, 1.42)
    assert ticks[0] >= 0.37 and ticks[-1] <= 1.42 and len(ticks) >= 3
    assert svg.nice_ticks(3, 3) == [3, 3.2, 3.4, 3.6, 3.8, 4.0]
    with pytest.raises(ValueError, match="finite"):
        svg.nice_ticks(0, math.nan)


def test_interpolate_hits_the_stops_and_clamps():
    assert svg.interpolate(("#000000", "#ffffff"), 0) == "#000000"
    assert svg.interpolate(("#000000", "#ffffff"), 1) == "#ffffff"
    assert svg.interpolate(("#000000", "#ffffff"), 0.5) == "#808080"
    assert svg.interpolate(("#000000", "#ffffff"), 7) == "#ffffff"


def test_line_chart_breaks_at_missing_points_instead_of_drawing_zero():
    chart = svg.line_chart(
        [svg.Series("a", [0, 1, 2, 3, 4], [0.5, 0.4, None, 0.3, math.nan])],
        title="t",
        y_range=(0, 1),
    )
    root = parse(chart)
    [group] = classes(root, "series")
    paths = group.findall("s:path", NS)
    assert len(paths) == 1  # 0-1 is a segment; 3 stands alone (a dot); no line through 2
    assert paths[0].get("d").count("L") == 1
    assert len(group.findall("s:circle", NS)) == 1
    assert root.get("width") and root.find("s:title", NS).text == "t"


def test_line_chart_without_points_is_an_error_not_an_empty_chart():
    with pytest.raises(ValueError, match="no points"):
        svg.line_chart([svg.Series("a", [0, 1], [None, None])], title="empty")


def test_bar_chart_marks_missing_values_as_na():
    root = parse(svg.bar_chart(["x", "y"], {"v": [3, None]}, title="bars"))
    bars = classes(root, "bar")
    assert len(bars) == 1 and float(bars[0].get("width")) > 0
    assert any(e.text == "n/a" for e in root.iter("{http://www.w3.org/2000/svg}text"))


def test_heatmap_keeps_zero_pending_and_suppressed_apart():
    root = parse(
        svg.heatmap(
            ["c1", "c2"],
            ["0", "1"],
            [[1.0, 0.0], [None, None]],
            [[svg.VALUE, svg.VALUE], [svg.SUPPRESSED, svg.PENDING]],
            title="cohorts",
            color_max=0.5,
        )
    )
    values = classes(root, "cell-value")
    assert len(values) == 2 and len(classes(root, "cell-pending")) == 1
    assert len(classes(root, "cell-suppressed")) == 1
    zero = values[1]
    pending = classes(root, "cell-pending")[0]
    # A 0% cell is coloured (the light end of the scale), a pending cell hatched.
    assert zero.get("fill").startswith("#") and zero.get("fill") != "#ffffff"
    assert pending.get("fill").startswith("url(#")
    assert zero.get("fill") != classes(root, "cell-suppressed")[0].get("fill")


def test_heatmap_value_cell_without_value_is_an_error():
    with pytest.raises(ValueError, match="has no value"):
        svg.heatmap(["c"], ["0"], [[None]], [[svg.VALUE]], title="bad")
