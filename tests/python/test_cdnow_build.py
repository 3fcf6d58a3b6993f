"""The whole warehouse on real data through the orders-only path (CDNOW).

Skipped when ../shared/datasets/cdnow is absent. Builds everything that
applies to an orders-only source (staging, features, churn model, segments,
marts) with as_of_date 1998-04-01 and checks what the dataset's documentation
says must hold, the leakage alarm of its reference results (a validation AUC
above 0.86 on this data means leakage until proven otherwise), and - once the
90 days after as_of_date are read back - that what shipped is at least as good
as the best baseline there (one origin of benchmarks/generalization.py).
"""

from __future__ import annotations

import json

import pytest

from dbt_runner import REPO_ROOT, query, run_dbt
from retention.loaders.cdnow import load_cdnow

CDNOW = REPO_ROOT.parent / "shared" / "datasets" / "cdnow"
ORDERS_ONLY = {
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}

pytestmark = [
    pytest.mark.integration,  # a dbt build on CDNOW
    pytest.mark.skipif(
        not (CDNOW / "CDNOW_master.txt").is_file(), reason=f"CDNOW not found at {CDNOW}"
    ),
]


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory):
    work = tmp_path_factory.mktemp("cdnow")
    summary = load_cdnow(CDNOW, work / "raw")
    assert summary.merged_rows == 2068  # same-day rows, as documented
    db = work / "cdnow.duckdb"
    run_dbt(
        ["build"],
        db,
        dbt_vars={
            "raw_path": str(work / "raw"),
            "as_of_date": "1998-04-01",
            "publish_path": str(work / "published"),
            "churn_score_all_candidates": True,
            **ORDERS_ONLY,
        },
        env={"RETENTION_ARTIFACTS": str(work / "artifacts")},
        timeout=1800,
    )
    return db


def test_every_customer_is_eligible_and_scored(cdnow_db):
    [(snapshots, customers)] = query(
        cdnow_db,
        "select count(*), count(distinct customer_id) from marts.fct_customer_snapshots "
        "where is_scoring_cutoff",
    )
    assert snapshots == customers == 23_570
    [(scored,)] = query(cdnow_db, "select count(*) from marts.fct_churn_scores")
    assert scored == 23_570
    [(dim,)] = query(cdnow_db, "select count(*) from marts.dim_customers")
    assert dim == 23_570


def test_features_from_missing_sources_are_left_out(cdnow_db):
    columns = {c for (c,) in query(cdnow_db, "select column_name from information_schema.columns "
                                             "where table_name = 'fct_customer_snapshots'")}  # fmt: skip
    assert "days_since_last_order" in columns
    assert not any(c.startswith(("sessions_", "events_", "category_")) for c in columns)
    assert "acquisition_channel" not in columns


def test_validation_is_out_of_time_and_below_the_leakage_alarm(cdnow_db):
    [(metrics, validation_cutoff)] = query(
        cdnow_db,
        "select validation_metrics_json, validation_cutoff_date from marts.fct_model_runs "
        "where is_champion",
    )
    assert str(validation_cutoff) == "1998-01-01"  # as_of - 90 days: the last mature cutoff
    auc = json.loads(metrics)["auc"]
    assert 0.70 < auc < 0.86, auc
    # Every recipe and baseline was scored on the same rows at each origin.
    rows = query(
        cdnow_db,
        "select origin_date, count(distinct validation_rows) from"
        " marts.fct_model_evaluation_origins group by 1",
    )
    assert len(rows) == 2 and all(distinct == 1 for _, distinct in rows)


def test_what_shipped_is_no_worse_than_the_best_baseline_after_as_of(cdnow_db):
    """The outcomes of the 90 days after as_of_date, which the build never saw: the shipped
    scores' log loss is within 0.005 of the best baseline's and their AUC within 0.01."""
    from retention.backtest import OriginSpec, score_origin

    spec = OriginSpec("cdnow", cdnow_db.parent / "raw", "1998-04-01", 90)
    result = score_origin(
        spec,
        {"database": cdnow_db, "artifacts": cdnow_db.parent / "artifacts", "build_seconds": 0},
    )
    assert result["customers"] == 23_570
    assert result["churn_rate"] == pytest.approx(0.860, abs=0.001)  # the reference's base rate
    assert result["holds"], (result["log_loss_margin"], result["auc_margin"])


def test_report_renders_for_orders_only_data(cdnow_db, tmp_path):
    """No events, products or customer table: the report still renders every section
    whose marts this source builds, and names the ones it cannot."""
    from retention.report import build_report

    result = build_report(cdnow_db, tmp_path / "report.html", cdnow_db.parent / "published")
    html = result.path.read_text()
    for key in ("summary", "cohorts", "model"):
        assert f'<section id="{key}" data-available="true"' in html
    assert html.count("Not available for this data") == len(result.unavailable)
    assert ">23,570<" in html  # customers in the summary
