"""The report's "Campaigns and uplift" section, on a small hand-made publish (no dbt): the
campaign results table, the targeting rules at the budget, the Qini and calibration charts;
left out when the build had no contacts source, "not available" when its marts are empty."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from retention.report.context import RunContext
from retention.report.data import Marts
from retention.report.page import render_page, render_sections
from retention.report.sections import campaigns

RULES = ("t_learner", "x_learner", "risk", "risk_x_value", "random")
OFFER = "win_back_discount"
SVG = "{http://www.w3.org/2000/svg}"


def campaign_results() -> pd.DataFrame:
    rows = []
    for campaign, day, effect in (("c1", "2024-03-01", 0.06), ("c2", "2024-06-01", 0.01)):
        for band in ("all", "recent"):
            rows.append(
                {
                    "campaign_id": campaign, "offer_type": OFFER, "recency_band": band,
                    "campaign_date": dt.date.fromisoformat(day), "treated_customers": 400,
                    "control_customers": 100, "offer_cost_mean": 5.0,
                    "retention_rate_treated": 0.30 + effect, "retention_rate_control": 0.30,
                    "retention_effect": effect, "retention_effect_ci_low": effect - 0.04,
                    "retention_effect_ci_high": effect + 0.04,
                    "revenue_per_customer_treated": 12.0, "revenue_per_customer_control": 9.5,
                    "revenue_effect": 2.5, "revenue_effect_ci_low": -1.0,
                    "revenue_effect_ci_high": 6.0, "net_revenue_per_contact": -2.5,
                    "is_retention_effect_significant": effect - 0.04 > 0,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def uplift_evaluation(chosen: str | None = "x_learner") -> pd.DataFrame:
    profits = {"t_learner": 800.0, "x_learner": 950.0, "risk": 400.0, "risk_x_value": 500.0,
               "random": 100.0}  # fmt: skip
    return pd.DataFrame(
        {
            "campaign_id": "c2", "offer_type": OFFER, "rule": rule,
            "rule_kind": "uplift_model" if rule.endswith("learner") else "baseline",
            "evaluation_rows": 500, "training_rows": 500, "training_campaigns": 1,
            "qini_coefficient": 0.01 * i, "uplift_top_10pct": 0.1 - 0.02 * i,
            "uplift_top_30pct": 0.05, "budget": 1000.0, "selected_rows": 200,
            "selected_cost": 1000.0, "incremental_profit": profit,
            "incremental_profit_ci_low": profit - 300, "incremental_profit_ci_high": profit + 300,
            "best_baseline": "risk_x_value", "difference_vs_best_baseline": profit - 500,
            "difference_ci_low": profit - 700, "difference_ci_high": profit - 300,
            "is_chosen": rule == chosen,
        }
        for i, (rule, profit) in enumerate(profits.items())
    )  # fmt: skip


def qini_curve() -> pd.DataFrame:
    shares = [k / 20 for k in range(1, 21)]
    return pd.DataFrame(
        {
            "campaign_id": "c2", "offer_type": OFFER, "rule": rule, "share_targeted": s,
            "rows_targeted": round(500 * s), "incremental_retained": 20 * s ** (0.5 + i / 4),
            "random_incremental_retained": 20 * s,
        }
        for i, rule in enumerate(RULES)
        for s in shares
    )  # fmt: skip


def uplift_calibration() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "campaign_id": "c2", "offer_type": OFFER, "rule": rule, "uplift_decile": d,
            "rows_in_decile": 50, "treated_rows": 40, "control_rows": 10,
            "predicted_uplift": 0.12 - 0.01 * d, "observed_uplift": 0.1 - 0.01 * d,
            "observed_uplift_ci_low": -0.2, "observed_uplift_ci_high": 0.3,
        }
        for rule in ("t_learner", "x_learner")
        for d in range(1, 11)
    )  # fmt: skip


def publish(folder, tables: dict[str, pd.DataFrame]) -> Marts:
    """A publish folder as retention.publish writes it: one Parquet file per table and the
    manifest listing them with their rows."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        entries.append({"table_name": name, "file": f"{name}.parquet", "rows": len(frame)})
    manifest = {"build_id": "test", "published_at": "2024-07-01T00:00:00", "tables": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return Marts.open(folder)


def campaign_marts(**override: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "fct_campaign_results": campaign_results(),
        "fct_uplift_evaluation": uplift_evaluation(),
        "fct_uplift_qini_curve": qini_curve(),
        "fct_uplift_calibration": uplift_calibration(),
        **override,
    }


def render(marts: Marts) -> str:
    section = campaigns.render_section(marts, RunContext(None))
    assert section is not None
    return str(section.body)


def charts(html: str) -> dict[str, ET.Element]:
    """Every chart by its title; each must parse as XML."""
    roots = [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", html, re.S)]
    return {root.find(f"{SVG}title").text: root for root in roots}


def test_the_section_shows_campaigns_rules_and_charts(tmp_path):
    with publish(tmp_path, campaign_marts()) as marts:
        html = render(marts)
    results = html.split("<h3>")[0]
    assert results.count("<tr") - 1 == 2  # the 'all' band of each campaign, not 'recent'
    assert "<td>c1</td><td>2024-03-01</td>" in results
    assert "+6.0 pp [+2.0 pp, +10.0 pp]" in results and "treated" in results
    assert results.count('<tr class="highlight">') == 1  # only c1's interval excludes 0
    rules = html.split("<h3>")[1]
    assert rules.count("<tr") - 1 == len(RULES)
    assert re.search(r'<tr class="highlight"><td>win_back_discount</td><td>x_learner</td>', rules)
    assert "<strong>x_learner</strong> ships" in rules
    assert "+950 [+650, +1,250]" in rules  # incremental profit with its interval
    drawn = charts(html)
    qini = drawn[f"Qini curves, offer {OFFER} (held-out campaign)"]
    lines = {g.get("data-name"): g for g in qini.iter(f"{SVG}g") if g.get("class") == "series"}
    assert set(lines) == {*RULES, "random targeting (expected)"}
    [random_path] = lines["random targeting (expected)"].iter(f"{SVG}path")
    assert random_path.get("stroke-dasharray")
    assert all(not p.get("stroke-dasharray") for r in RULES for p in lines[r].iter(f"{SVG}path"))
    assert f"Uplift calibration, x_learner, offer {OFFER}" in drawn


def test_no_chosen_rule_says_the_action_list_keeps_the_assumed_uplift(tmp_path):
    marts_in = campaign_marts(fct_uplift_evaluation=uplift_evaluation(chosen=None))
    with publish(tmp_path, marts_in) as marts:
        html = render(marts)
    assert "keeps the assumed uplift" in html and 'class="highlight"><td>win' not in html
    assert f"Uplift calibration, x_learner (best learner, not shipped), offer {OFFER}" in html


def test_without_a_held_out_campaign_the_results_still_show(tmp_path):
    empty = uplift_evaluation().iloc[0:0]
    tables = campaign_marts(fct_uplift_evaluation=empty, fct_uplift_qini_curve=qini_curve()[:0])
    with publish(tmp_path, tables) as marts:
        html = render(marts)
    assert "<td>c2</td>" in html
    assert "Not available for this data: marts.fct_uplift_evaluation has no rows" in html
    assert "<svg" not in html


@pytest.mark.parametrize(
    ("tables", "shown"),
    [
        ({}, None),  # built without enable_contacts: left out of the page
        ({"fct_campaign_results": campaign_results()[:0]}, "false"),  # built, empty
    ],
)
def test_without_campaign_marts_the_section_is_absent_or_not_available(tmp_path, tables, shown):
    with publish(tmp_path, tables) as marts:
        sections = render_sections(marts)
        html = render_page(marts, sections, database_name="x", generated_at=dt.datetime(2024, 7, 1))
    section = re.search(r'<section id="campaigns" data-available="(\w+)".*?</section>', html, re.S)
    if shown is None:
        assert section is None and 'href="#campaigns"' not in html
        assert [s.key for s in sections] == ["summary", "cohorts", "segments", "model", "actions"]
    else:
        assert section.group(1) == "false"
        assert "Not available for this data: marts.fct_campaign_results has no rows" in html


def test_a_chosen_learner_the_campaign_cannot_tell_from_a_baseline_is_flagged(tmp_path):
    significant = render(publish(tmp_path / "a", campaign_marts()))
    assert "cannot tell it from the best baseline" not in significant
    weak = uplift_evaluation()
    weak.loc[weak["rule"] == "x_learner", "difference_ci_low"] = -150.0
    text = re.sub(
        r"\s+", " ", render(publish(tmp_path / "b", campaign_marts(fct_uplift_evaluation=weak)))
    )
    assert "cannot tell it from the best baseline</strong>: on win_back_discount" in text
    assert "the difference with risk_x_value is" in text
