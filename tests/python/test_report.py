"""`retention report` on a real build: every section rendered from the published marts,
cells that have not elapsed shown as such, sources without some marts, clear errors."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from retention.cli import main
from retention.report import REPORT_NAME, ReportInputError, build_report, write_atomic

SECTIONS = ("summary", "cohorts", "segments", "model", "actions")


@pytest.fixture(scope="module")
def report(small_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / REPORT_NAME
    result = build_report(small_build.database, out, small_build.published)
    return result, out.read_text()


def section(html: str, key: str) -> str:
    match = re.search(rf'<section id="{key}".*?</section>', html, re.S)
    assert match, f"section {key} missing"
    return match.group(0)


def published_rows(small_build, sql: str):
    current = (small_build.published / small_build.database.stem / "current").resolve()
    with duckdb.connect() as con:
        return con.execute(sql.replace("{current}", str(current))).fetchall()


@pytest.mark.integration
def test_every_section_is_rendered_from_a_complete_build(report):
    result, html = report
    assert result.unavailable == ()
    for key in SECTIONS:
        assert f'<section id="{key}" data-available="true"' in html
    assert "Not available for this data" not in html
    assert result.bytes == len(html.encode()) and result.path.name == REPORT_NAME


@pytest.mark.integration
def test_the_file_is_self_contained(report):
    _, html = report
    # Nothing fetched: no scripts, stylesheets, images or fonts from anywhere.
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)", html)
    assert not re.search(r"(src|href)=\"(?!#)", html)
    assert html.count("<svg") >= 10


@pytest.mark.integration
def test_heatmap_cells_match_the_cohort_mart(small_build, report):
    _, html = report
    cohorts = section(html, "cohorts")
    [(cohorts_n, periods, values, nulls, suppressed)] = published_rows(
        small_build,
        """
        select count(distinct cohort_start_date), max(period_number) + 1,
               count(*) filter (where not is_suppressed and n_day_retention is not null),
               count(*) filter (where not is_suppressed and n_day_retention is null),
               count(*) filter (where is_suppressed)
        from read_parquet('{current}/fct_cohort_retention.parquet') where cohort_grain = 'month'
        """,
    )
    assert nulls > 0, "the fixture should have periods that have not ended"
    assert cohorts_n * periods == values + nulls + suppressed  # a full grid
    assert cohorts.count('class="cell cell-value"') == values
    assert cohorts.count('class="cell cell-pending"') == nulls
    assert cohorts.count('class="cell cell-suppressed"') == suppressed


@pytest.mark.integration
def test_summary_numbers_come_from_the_marts(small_build, report):
    _, html = report
    [(customers, at_risk)] = published_rows(
        small_build,
        "select count(*), sum(revenue_at_risk) "
        "from read_parquet('{current}/dim_customers.parquet')",
    )
    summary = section(html, "summary")
    assert f">{customers:,}<" in summary
    assert f">{at_risk:,.0f}<" in summary


@pytest.mark.integration
def test_model_card_lists_every_model_and_the_data_window(small_build, report):
    _, html = report
    model = section(html, "model")
    names = published_rows(
        small_build,
        "select e.model_name from read_parquet('{current}/fct_model_evaluation.parquet') e "
        "join read_parquet('{current}/fct_model_runs.parquet') r using (model_version) "
        "where r.is_champion and e.is_shortlisted",
    )
    assert len(names) >= 4
    for (name,) in names:
        assert f"<td>{name}</td>" in model
    for title in ("ROC", "Precision-recall", "Calibration", "Lift by decile"):
        assert f"<title>{title}" in model
    assert "validation origin</td>" in model and "Feature importance" in model
    assert "<title>Global importance by feature family" in model


@pytest.mark.integration
def test_action_preview_is_the_top_20(small_build, report):
    _, html = report
    actions = section(html, "actions")
    [(count,)] = published_rows(
        small_build, "select count(*) from read_parquet('{current}/fct_retention_actions.parquet')"
    )
    assert actions.count("<tr>") - 1 == min(count, 20)  # minus the header row
    # the count and cost are of the rows to contact, not of the held-out control group
    assignments = dict(
        published_rows(
            small_build,
            "select assignment, count(*) from read_parquet('{current}/fct_retention_actions.parquet')"
            " group by 1",
        )
    )
    assert f"{assignments['treatment']:,} customers to contact" in actions
    assert assignments.get("control", 0) > 0, "the demo list should hold out a control group"
    assert f"{assignments['control']:,} more are held out at random" in actions


@pytest.mark.integration
def test_marts_missing_or_empty_say_not_available(small_build, tmp_path):
    """An orders-only source has no recommendations, a skipped model leaves its marts empty:
    a publish without those still renders, section by section."""
    source = (small_build.published / small_build.database.stem / "current").resolve()
    target = tmp_path / "published" / "orders_only" / "build"
    shutil.copytree(source, target)
    (target.parent / "current").symlink_to("build")
    manifest = json.loads((target / "manifest.json").read_text())
    drop = {"fct_retention_actions", "dim_segments", "fct_segment_retention"}
    manifest["tables"] = [t for t in manifest["tables"] if t["table_name"] not in drop]
    for entry in manifest["tables"]:
        if entry["table_name"] in ("fct_model_runs", "fct_model_evaluation"):
            entry["rows"] = 0
    (target / "manifest.json").write_text(json.dumps(manifest))
    database = tmp_path / "orders_only.duckdb"
    database.touch()
    result = build_report(database, tmp_path / "out.html", tmp_path / "published")
    assert set(result.unavailable) == {"segments", "model", "actions"}
    html = result.path.read_text()
    assert html.count("Not available for this data") == 3
    assert '<section id="cohorts" data-available="true"' in html


def test_no_warehouse_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ReportInputError, match=r"No warehouse at .*run `make demo`"):
        build_report(tmp_path / "nothing.duckdb", tmp_path / "r.html", tmp_path / "pub")
    code = main(["report", "--database", str(tmp_path / "nothing.duckdb")])
    assert code == 2 and "make demo" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_database_without_a_publish_is_a_clear_error(tmp_path):
    database = tmp_path / "unbuilt.duckdb"
    duckdb.connect(str(database)).close()
    with pytest.raises(ReportInputError, match="no published marts"):
        build_report(database, tmp_path / "r.html", tmp_path / "pub")


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "r.html"
    write_atomic(path, "one")
    write_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]


@pytest.mark.integration
def test_cli_prints_the_path(small_build, tmp_path, capsys):
    out = tmp_path / "cli.html"
    code = main(
        ["report", "--database", str(small_build.database), "--published",
         str(small_build.published), "--out", str(out)]
    )  # fmt: skip
    assert code == 0 and out.is_file()
    assert str(out) in capsys.readouterr().out


def test_the_exposure_lists_exactly_the_marts_the_report_reads():
    import yaml

    from dbt_runner import REPO_ROOT

    package = REPO_ROOT / "python" / "retention" / "report"
    source = "\n".join(p.read_text() for p in sorted(package.rglob("*.py")))
    assert "marts.dim_customers" in source, "the sections should be in the package"
    read = set(re.findall(r"marts\.((?:fct|dim)_[a-z_]+)", source))
    read |= set(re.findall(r"marts(?:\.has\(|, )\"((?:fct|dim)_[a-z_]+)\"", source))
    exposures = yaml.safe_load((REPO_ROOT / "models" / "marts" / "_exposures.yml").read_text())
    # the campaign section's marts are optional: a second exposure, enabled with them
    reports = [e for e in exposures["exposures"] if e["name"].startswith("retention_report")]
    assert {e["name"] for e in reports} == {"retention_report", "retention_report_campaigns"}
    declared = {
        re.fullmatch(r"ref\('(\w+)'\)", d).group(1) for e in reports for d in e["depends_on"]
    }
    assert read == declared


def test_missing_run_facts_show_a_dash_not_nan():
    from retention.report.components import fmt_text

    assert fmt_text(float("nan")) == "–"
    assert fmt_text(None) == "–"
    assert fmt_text("sigmoid") == "sigmoid"
