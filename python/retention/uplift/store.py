"""The tables the uplift dbt models return, with fixed columns even when empty (the marts
over them compile and run either way)."""

from __future__ import annotations

import logging

import pandas as pd

from retention.dbt_logging import forward_to_dbt
from retention.uplift.pipeline import (
    NotEnoughExperimentsError,
    UpliftSettings,
    chosen_learner,
    evaluate_rules,
    fit_for_scoring,
    score_customers,
    validation_predictions,
)

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = {
    "contact_id": "object", "campaign_id": "object", "offer_type": "object",
    "offer_cost": "float64", "rule": "object", "rule_kind": "object", "score": "float64",
    "is_treatment": "bool", "is_retained": "int64", "value": "float64",
    "mu_control": "float64", "mu_treated": "float64",
    "training_rows": "int64", "training_campaigns": "int64",
}  # fmt: skip
EVALUATION_COLUMNS = {
    "campaign_id": "object", "offer_type": "object", "rule": "object", "rule_kind": "object",
    "evaluation_rows": "int64", "training_rows": "int64", "training_campaigns": "int64",
    "qini_coefficient": "float64", "uplift_top_10pct": "float64",
    "uplift_top_30pct": "float64", "budget": "float64", "selected_rows": "int64",
    "selected_cost": "float64", "incremental_profit": "float64",
    "incremental_profit_ci_low": "float64", "incremental_profit_ci_high": "float64",
    "best_baseline": "object", "difference_vs_best_baseline": "float64",
    "difference_ci_low": "float64", "difference_ci_high": "float64", "is_chosen": "bool",
}  # fmt: skip
SCORE_COLUMNS = {
    "customer_id": "object", "as_of_date": "datetime64[ns]", "offer_type": "object",
    "offer_cost": "float64", "uplift": "float64", "learner": "object",
}  # fmt: skip


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def validation_table(frame: pd.DataFrame, settings: UpliftSettings) -> pd.DataFrame:
    """The held-out campaign's scores by every rule; empty (with a warning in the dbt log)
    when there are too few campaigns or rows: the action list keeps the assumed uplift."""
    with forward_to_dbt("retention.uplift"):
        try:
            return validation_predictions(frame, settings)[list(PREDICTION_COLUMNS)]
        except NotEnoughExperimentsError as error:
            log.warning("uplift: %s", error)
            return _empty(PREDICTION_COLUMNS)


def evaluation_table(predictions: pd.DataFrame, settings: UpliftSettings) -> pd.DataFrame:
    if predictions.empty:
        return _empty(EVALUATION_COLUMNS)
    with forward_to_dbt("retention.uplift"):
        evaluation = evaluate_rules(predictions, settings)
        chosen = chosen_learner(evaluation)
        evaluation["is_chosen"] = evaluation["rule"] == chosen
        if chosen is None:
            log.warning(
                "uplift: a baseline beat the best uplift learner significantly on the "
                "held-out campaign; the action list keeps the assumed uplift"
            )
        else:
            log.info("uplift: %s ships (held-out campaign %s)", chosen,
                     evaluation["campaign_id"].iloc[0])  # fmt: skip
    return evaluation[list(EVALUATION_COLUMNS)]


def uplift_scores(
    frame: pd.DataFrame,
    evaluation: pd.DataFrame,
    customers: pd.DataFrame,
    settings: UpliftSettings,
) -> pd.DataFrame:
    """Per customer scored at as_of_date and tested offer: the chosen learner's uplift."""
    chosen = evaluation.loc[evaluation["is_chosen"].astype(bool), "rule"].unique().tolist()
    if not chosen or customers.empty:
        return _empty(SCORE_COLUMNS)
    learner = str(chosen[0])
    with forward_to_dbt("retention.uplift"):
        features, fitted = fit_for_scoring(frame, learner, settings)
        effects = score_customers(customers.reset_index(drop=True), features, fitted)
        log.info("uplift: scored %d customers x %d offers with %s", len(customers),
                 len(fitted), learner)  # fmt: skip
    costs = evaluation.groupby("offer_type")["selected_cost"].size()  # offers evaluated
    mean_cost = frame[frame["is_treatment"]].groupby("offer_type")["offer_cost"].mean()
    long = effects.assign(customer_id=customers["customer_id"].to_numpy()).melt(
        id_vars="customer_id", var_name="offer_type", value_name="uplift"
    )
    long = long[long["offer_type"].isin(costs.index)]
    long["offer_cost"] = long["offer_type"].map(mean_cost).astype(float)
    long["as_of_date"] = pd.to_datetime(customers["as_of_date"].iloc[0])
    long["learner"] = learner
    return long[list(SCORE_COLUMNS)].reset_index(drop=True)
