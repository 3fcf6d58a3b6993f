"""One generated regime of benchmarks/generalization.py, end to end: the churn rate rises by
about 10 points between training and scoring, and no feature announces it. What `dbt build`
ships there must be at least as good as the best baseline on the outcomes after as_of_date
(log loss within 0.005, AUC within 0.01). CDNOW's headline origin is in test_cdnow_build.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retention.backtest import OriginSpec, build_origin, regime_files, score_origin
from retention.datagen import GeneratorConfig, generate

pytestmark = pytest.mark.slow  # a whole selection on a drifting shop


@pytest.fixture(scope="module")
def rising_churn(tmp_path_factory):
    work = tmp_path_factory.mktemp("rising_churn")
    generate(
        GeneratorConfig(
            customers=2000, seed=7, out=work / "generated", format="parquet",
            start=dt.date(2023, 1, 1), end=dt.date(2024, 12, 31), quiet=True,
        )
    )  # fmt: skip
    raw, dbt_vars = regime_files(work / "generated", work / "regimes", "rising_churn",
                                 "2024-10-01", 90)  # fmt: skip
    spec = OriginSpec("rising_churn", raw, "2024-10-01", 90, dbt_vars)
    built = build_origin(spec, work / "builds", timeout=1800, report_only=False)
    return spec, score_origin(spec, built)


def churn_rate(orders: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> float:
    """Purchase churn at a cutoff: customers with an order before it and none in the horizon."""
    before = set(orders.loc[orders["ordered_at"] < cutoff, "customer_id"])
    window = orders["ordered_at"].between(cutoff, cutoff + pd.Timedelta(days=horizon_days),
                                          inclusive="left")  # fmt: skip
    return 1 - len(before & set(orders.loc[window, "customer_id"])) / len(before)


def test_the_churn_rate_rises_between_training_and_scoring(rising_churn):
    spec, result = rising_churn
    orders = pd.read_csv(spec.raw / "orders.csv", parse_dates=["ordered_at"])
    orders = orders[orders["status"] == "completed"]
    as_of = pd.Timestamp(spec.as_of)
    at_scoring = churn_rate(orders, as_of, 90)
    assert at_scoring == pytest.approx(result["churn_rate"], abs=0.02)
    assert at_scoring - churn_rate(orders, as_of - pd.Timedelta(days=270), 90) > 0.08


def test_what_ships_is_no_worse_than_the_best_baseline(rising_churn):
    _, result = rising_churn
    assert result["customers"] > 500
    assert result["holds"], (result["log_loss_margin"], result["auc_margin"])
    shipped = result["scores"]["shipped"]
    assert abs(shipped["aggregate_error"]) < 0.1
