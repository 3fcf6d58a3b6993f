"""The uplift path of a real build (issue 18): a generated shop with past randomized
campaigns, orders and contacts only, built through the action list.

What it checks: the held-out campaign is the latest one; every rule is judged on it; the
shipped learner's list, scored with the generator's true effects, beats today's risk x
value rule and random targeting; and the action list follows its promises (model-sourced
contacts have a positive estimated uplift, do-not-disturb customers a negative one and
no cost, the hashed control group, the budget).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from dbt_runner import query, run_dbt
from retention.datagen import GeneratorConfig, generate
from retention.uplift.evaluation import select_within_budget
from retention.uplift.pipeline import targeting_score

pytestmark = pytest.mark.integration  # a dbt build

VARS = {
    # the churn model only ranks the fallback rule here: one quick learner is enough, and
    # no BTYD baselines (their four MAP fits were most of the build's training)
    "churn_candidates": ["logistic_regression"],
    "churn_use_btyd": False,
    "enable_contacts": True,
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    raw = tmp_path_factory.mktemp("uplift_raw")
    generate(
        GeneratorConfig(
            customers=12000, seed=17, out=raw, format="parquet", start=dt.date(2023, 1, 1),
            end=dt.date(2024, 12, 31), events_scale=0.05, campaigns=4, quiet=True,
        )
    )  # fmt: skip
    db = raw.parent / "uplift.duckdb"
    run_dbt(
        ["build", "--select", "+fct_retention_actions", "+fct_uplift_evaluation",
         "+fct_uplift_qini_curve", "+fct_uplift_calibration", "--exclude", "test_type:unit"],
        db, dbt_vars={"raw_path": str(raw), **VARS}, timeout=1800,
        env={"RETENTION_ARTIFACTS": str(raw.parent / "artifacts")},
    )  # fmt: skip
    parts = sorted((raw / "ground_truth").glob("contacts_truth/*.parquet"))
    truth = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    return db, truth


def _frame(db, sql: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(query(db, sql), columns=columns)


def test_the_latest_campaign_is_held_out_and_every_rule_is_judged(built):
    db, truth = built
    held_out = _frame(db, "select distinct campaign_id from ml.ml_uplift_validation", ["c"])
    assert held_out["c"].tolist() == [sorted(truth["campaign_id"].unique())[-1]]
    rules = {r for (r,) in query(db, "select distinct rule from marts.fct_uplift_evaluation")}
    assert rules == {"t_learner", "x_learner", "risk", "risk_x_value", "random"}
    [(chosen,)] = query(
        db, "select count(distinct rule) from marts.fct_uplift_evaluation where is_chosen"
    )
    assert chosen == 1, "on this shop a learner ships"


def test_the_shipped_list_beats_todays_rule_and_random_on_the_true_effects(built):
    db, truth = built
    columns = ["contact_id", "offer_type", "offer_cost", "rule", "score", "value"]
    pred = _frame(db, f"select {', '.join(columns)} from ml.ml_uplift_validation", columns)
    [(shipped,)] = query(
        db, "select distinct rule from marts.fct_uplift_evaluation where is_chosen"
    )
    [(budget,)] = query(db, "select max(budget) from marts.fct_uplift_evaluation")
    truth = truth.set_index("contact_id")
    profit = {}
    for rule, rows in pred[pred["offer_type"] == "discount"].groupby("rule"):
        rows = rows.reset_index(drop=True)
        t = truth.loc[rows["contact_id"]]
        gain = t["retained_if_discount"].astype(float) - t["retained_if_control"].astype(float)
        cost = rows["offer_cost"].to_numpy()
        selected = select_within_budget(
            targeting_score(rule, rows), cost, float(budget),
            positive_only=rule not in ("risk", "random"),
        )  # fmt: skip
        profit[rule] = float(((gain.to_numpy() * rows["value"].to_numpy()) - cost)[selected].sum())
    assert profit[shipped] > max(profit["risk_x_value"], profit["random"], profit["risk"]), profit


def test_the_action_list_keeps_its_promises(built):
    db, _ = built
    columns = ["customer_id", "as_of_date", "assignment", "uplift_source", "estimated_uplift",
               "offer_cost", "cumulative_cost", "campaign_id"]  # fmt: skip
    actions = _frame(db, f"select {', '.join(columns)} from marts.fct_retention_actions", columns)
    model = actions[actions["uplift_source"] == "model"]
    assert len(model) > 0, "the chosen learner scored the list"
    contacted = model[model["assignment"] == "treatment"]
    assert (contacted["estimated_uplift"] > 0).all()
    dnd = actions[actions["assignment"] == "do_not_disturb"]
    assert (dnd["estimated_uplift"] < 0).all()
    treatment_cost = actions.loc[actions["assignment"] == "treatment", "offer_cost"].sum()
    [(budget,)] = query(db, "select max(budget) from marts.fct_uplift_evaluation")
    assert treatment_cost <= budget + 1e-9
    assert actions["cumulative_cost"].max() <= budget + 1e-9
    assert dnd["cumulative_cost"].isna().all()
    # the control group is the md5 rule, reproducible outside the warehouse
    listed = actions[actions["assignment"].isin(["treatment", "control"])]
    expected = [
        "control" if hashlib.md5(f"{c}|{k}".encode()).hexdigest()[:4] < f"{round(0.1 * 65536):04x}"
        else "treatment"
        for c, k in zip(listed["customer_id"], listed["campaign_id"], strict=True)
    ]  # fmt: skip
    assert listed["assignment"].tolist() == expected


def test_qini_of_the_shipped_learner_is_above_random(built):
    db, _ = built
    rows = dict(
        query(
            db,
            "select rule, qini_coefficient from marts.fct_uplift_evaluation"
            " where offer_type = 'discount'",
        )
    )
    [(shipped,)] = query(
        db, "select distinct rule from marts.fct_uplift_evaluation where is_chosen"
    )
    assert rows[shipped] > rows["random"]
    assert np.isfinite(list(rows.values())).all()
