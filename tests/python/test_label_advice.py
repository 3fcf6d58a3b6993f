"""Too few labels: the error names the smallest var change that would give enough
(retention.churn.label_advice), checked by building the labels it promises."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from churn_fixtures import AS_OF, make_snapshots, simulate_orders, snapshots_from_orders
from retention.churn.label_advice import SpineSettings, advice, is_enough, labelled_rows
from retention.churn.pipeline import run_training
from retention.churn.plan import InsufficientLabelsError


@pytest.fixture(scope="module")
def short_log():
    """Four months of orders, like the grocery log that broke training."""
    customers, orders = simulate_orders(1500, seed=3, as_of=AS_OF, history_days=120)
    days = pd.DataFrame(
        {
            "customer_id": orders["customer_id"],
            "activity_date": pd.Timestamp(0) + pd.to_timedelta(orders["day"], unit="D"),
        }
    ).drop_duplicates()
    return customers, orders, days


def settings(**overrides) -> SpineSettings:
    base = dict(
        as_of=AS_OF, horizon_days=30, snapshot_every_days=7, max_training_snapshots=12,
        min_history_days=56, min_labelled_rows=200, min_class_rows=20,
    )  # fmt: skip
    return SpineSettings(**{**base, **overrides})


def test_labels_match_the_warehouse_definition(short_log):
    """The recomputed spine labels every eligible customer like fct_customer_snapshots:
    churned = no order in [c, c + H), eligible = an order before c."""
    customers, orders, days = short_log
    rows = labelled_rows(days, settings(min_history_days=14))
    expected = snapshots_from_orders(customers, orders, AS_OF, n_mature=14, horizon=30, every=7)
    expected = expected[expected["is_label_mature"]]
    merged = rows.merge(
        expected[["customer_id", "cutoff_date", "is_churned"]],
        on=["customer_id", "cutoff_date"],
        suffixes=("", "_warehouse"),
    )
    assert len(merged) == len(rows) > 1000
    assert (merged["is_churned"] == merged["is_churned_warehouse"].astype(bool)).all()


def test_advice_names_the_var_that_fixes_it_and_the_fix_works(short_log):
    _, _, days = short_log
    current = settings()
    assert is_enough(days, current)[0] is False
    message = advice(days, current)
    assert message.startswith("Smallest change that works: min_history_days: ")
    value = int(message.split("min_history_days: ")[1].split()[0])
    assert value < 56
    assert is_enough(days, replace(current, min_history_days=value))[0] is True
    assert "churn_on_insufficient_labels: skip" in message


def test_a_too_long_horizon_is_named_when_nothing_else_helps(short_log):
    _, _, days = short_log
    current = settings(horizon_days=90, snapshot_every_days=28, min_history_days=28)
    assert is_enough(days, current)[0] is False
    assert "churn_horizon_days: " in advice(days, current)


def test_the_training_error_carries_the_advice(short_log, tmp_path):
    customers, orders, days = short_log
    snapshots = snapshots_from_orders(customers, orders, AS_OF, n_mature=8, horizon=30, every=7)
    # Keep only cutoffs at least 56 days into the data, as min_history_days: 56 would.
    start = pd.Timestamp(0) + pd.Timedelta(days=int(orders["day"].min()))
    kept = snapshots[(snapshots["cutoff_date"] >= start + pd.Timedelta(days=56))
                     | snapshots["is_scoring_cutoff"]]  # fmt: skip
    activity = days.assign(completed_orders=1)
    dbt_settings = {
        "candidates": "['logistic_regression']", "use_btyd": "false", "horizon_days": "30",
        "snapshot_every_days": "7", "max_training_snapshots": "8", "min_history_days": "56",
        "churn_definition": "purchase",
    }  # fmt: skip
    from retention.churn.registry import Registry

    with pytest.raises(InsufficientLabelsError) as error:
        run_training(kept, dbt_settings, Registry(tmp_path), activity=lambda: activity)
    assert "Smallest change that works: min_history_days: " in str(error.value)


def test_skip_keeps_the_registry_as_it_was(tmp_path):
    from retention.churn.registry import Registry

    small = make_snapshots(n_customers=40, n_mature=8, seed=1)
    history = run_training(
        small,
        {
            "candidates": "['logistic_regression']",
            "use_btyd": "false",
            "on_insufficient_labels": "skip",
        },
        Registry(tmp_path),
    )
    assert history.empty and not (tmp_path / "models").exists()
