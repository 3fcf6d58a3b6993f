"""Validate every recipe at every origin and choose the one to ship.

Selection metric: the mean over the validation origins of the log loss of
each recipe's shipped (calibrated, drift-corrected) predictions. Log loss is a
proper scoring rule: it rewards ranking and calibration together, and the
product uses the probabilities themselves (expected churners, revenue at
risk). Baselines are recipes like any other, so the chosen recipe's mean
validation log loss is never above the best baseline's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention.churn import metrics
from retention.churn.plan import Origin
from retention.churn.recipes import Recipe, RecipeInputs, apply_recipe

SPREAD_METRICS = ("log_loss", "auc")


def origin_predictions(
    recipes: list[Recipe], origins: list[Origin], inputs: RecipeInputs
) -> dict[str, dict[pd.Timestamp, np.ndarray]]:
    """recipe name -> origin date -> the recipe's predictions for that origin's rows."""
    return {r.name: {o.date: apply_recipe(r, o, inputs) for o in origins} for r in recipes}


def origin_metrics(
    recipes: list[Recipe],
    predictions: dict[str, dict[pd.Timestamp, np.ndarray]],
    origins: list[Origin],
    inputs: RecipeInputs,
) -> pd.DataFrame:
    """One row per recipe and origin: the metrics of its predictions against the labels."""
    rows = []
    for recipe in recipes:
        for origin in origins:
            y = inputs.labels(origin.date)
            rows.append(
                {
                    "model_name": recipe.name,
                    "model_kind": recipe.kind,
                    "learner": recipe.learner,
                    "calibration": recipe.calibration,
                    "final_rule": recipe.rule,
                    "origin_date": origin.date,
                    "calibration_cutoff": origin.calibration_cutoff,
                    **metrics.probability_metrics(y, predictions[recipe.name][origin.date]),
                    "share_above_0_99": float(
                        (predictions[recipe.name][origin.date] > 0.99).mean()
                    ),
                }
            )
    return pd.DataFrame(rows)


def summarise(per_origin: pd.DataFrame) -> pd.DataFrame:
    """One row per recipe: the mean of each metric over the origins, and the spread of
    log loss and AUC across them."""
    keys = ["model_name", "model_kind", "learner", "calibration", "final_rule"]
    numeric = [
        c for c in per_origin.columns if c not in [*keys, "origin_date", "calibration_cutoff"]
    ]
    grouped = per_origin.groupby(keys, sort=False)
    summary = grouped[numeric].mean()
    summary["origins"] = grouped.size()
    for metric in SPREAD_METRICS:
        summary[f"{metric}_std"] = grouped[metric].std(ddof=0)
        summary[f"{metric}_min"] = grouped[metric].min()
        summary[f"{metric}_max"] = grouped[metric].max()
    summary["validation_cutoff"] = grouped["origin_date"].max()
    return summary.reset_index()


def choose(summary: pd.DataFrame) -> str:
    """The recipe with the lowest mean validation log loss (ties: the first listed)."""
    selectable = summary[summary["log_loss"].notna()]
    return str(selectable.loc[selectable["log_loss"].idxmin(), "model_name"])


def best_baseline(summary: pd.DataFrame) -> pd.Series:
    baselines = summary[summary["model_kind"] == "baseline"]
    return baselines.loc[baselines["log_loss"].idxmin()]


def shortlist(summary: pd.DataFrame, chosen: str) -> pd.Series:
    """The rows worth drawing: the chosen recipe, the best recipe of every learner, and
    the baselines."""
    best_of_learner = summary.groupby("learner")["log_loss"].transform("min")
    return (
        summary["model_name"].eq(chosen)
        | summary["model_kind"].eq("baseline")
        | summary["log_loss"].eq(best_of_learner)
    )
