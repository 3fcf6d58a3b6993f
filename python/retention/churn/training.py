"""Train, validate, select and register a churn model, out of time.

The steps (README, "Churn model"), one function each:

1. split: the mature (labelled) rows, the as-of rows, the features, and the
   cutoff plan - which mature cutoffs are validation origins (plan.py).
2. candidates and baselines: every recipe (recipes.py) - a classifier, a BTYD
   model or the constant rate, with a calibration and a final-model rule.
3. validation and selection: each recipe is applied at each origin exactly as
   it would ship there (models fitted on cutoffs labelled by the origin,
   calibration learned on the latest of them) and scored on the origin's
   labels; the recipe with the lowest mean log loss wins (selection.py).
4. promotion: the chosen recipe replaces the champion only if it beats it on
   the same validation rows.
5. final model: the chosen recipe applied at as_of_date (the same code path).
6. explanation: permutation importance on the latest origin (importance.py).
7. run record: what the registry stores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from retention import __version__
from retention.churn import metrics
from retention.churn.candidates import CANDIDATES
from retention.churn.evaluation import RANKING_ONLY, evaluation_frames
from retention.churn.fits import ENSEMBLE, OutOfTimeFits
from retention.churn.frames import LABEL_COLUMN, feature_columns, prepare_snapshots
from retention.churn.importance import permutation_importance
from retention.churn.model import BTYD_INPUTS, Calibrator, ChurnModel, ConstantLearner
from retention.churn.plan import CutoffPlan, InsufficientLabelsError, Origin, plan_cutoffs
from retention.churn.recipes import (
    BLEND_BTYD,
    BTYD_LEARNERS,
    CONSTANT,
    Recipe,
    apply_recipe,
    enumerate_recipes,
    fit_calibrator,
)
from retention.churn.selection import best_baseline, choose, origin_metrics, summarise

log = logging.getLogger(__name__)

__all__ = ["InsufficientLabelsError", "TrainingConfig", "TrainingResult", "train_churn_model"]


@dataclass
class TrainingConfig:
    horizon_days: int = 90
    seed: int = 42
    candidates: tuple[str, ...] = (*CANDIDATES, ENSEMBLE)
    # Validated and reported next to the candidates, never shipped (benchmarks run the
    # slower learners this way without changing what a default build ships).
    report_only_candidates: tuple[str, ...] = ()
    use_btyd: bool = True
    calibration: str = "auto"  # auto | none | prior_shift | sigmoid | isotonic | btyd_blend
    final_model: str = "auto"  # auto | refit | validated: the rules recipes may use
    validation_origins: int = 2  # the latest mature cutoffs each recipe is validated at
    min_labelled_rows: int = 200
    min_class_rows: int = 20
    on_insufficient_labels: str = "error"  # error | skip
    # Above this many labelled rows, a model trains on a deterministic sample of customers
    # (all their cutoffs kept): every recipe is fitted at several dates, and beyond this the
    # learners gain little (BENCHMARKS.md) while the cost grows linearly.
    max_training_rows: int = 250_000
    btyd_max_fit_customers: int = 100_000  # BTYD parameters from a sample; everyone is scored
    score_all_candidates: bool = False  # also score the as-of rows with every learner's best
    importance_repeats: int = 2
    importance_max_rows: int = 5000


@dataclass
class Split:
    frame: pd.DataFrame  # every snapshot row, time-ordered
    plan: CutoffPlan
    numeric: list[str]
    categorical: list[str]
    use_btyd: bool


@dataclass
class TrainingResult:
    model_version: str
    challenger: ChurnModel  # the chosen recipe, fitted to ship at as_of_date
    run: dict
    evaluation: pd.DataFrame  # one row per recipe: means over the origins
    origin_evaluation: pd.DataFrame  # one row per recipe and origin
    curves: pd.DataFrame
    validation_predictions: pd.DataFrame  # the chosen recipe at every origin (the backtest)
    as_of_predictions: pd.DataFrame  # the shipped (and optionally every learner's) scores
    importance: pd.DataFrame
    timings: dict = field(default_factory=dict)


# ---------------------------------------------------------------- helpers


def data_fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of the rows, independent of row and column order: the warehouse
    returns the snapshot mart in no guaranteed order (it is built by GROUP BYs)."""
    columns = sorted(frame.columns)
    hashed = np.sort(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy())
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(json.dumps(columns).encode())
    return digest.hexdigest()


def label_problem(rows: pd.DataFrame, what: str, config: TrainingConfig) -> str | None:
    """None when there are enough labels; otherwise the problem, in numbers."""
    y = rows[LABEL_COLUMN].astype(float)
    churners, stayers = int(y.sum()), int(len(y) - y.sum())
    if len(y) < config.min_labelled_rows or min(churners, stayers) < config.min_class_rows:
        return (
            f"{what}: {len(y)} labelled rows ({churners} churners, {stayers} non-churners); "
            f"need at least {config.min_labelled_rows} rows and {config.min_class_rows} of each "
            "class"
        )
    return None


# ---------------------------------------------------------------- 1. split


def split_snapshots(snapshots: pd.DataFrame, config: TrainingConfig) -> Split:
    """Raises InsufficientLabelsError when no validation origin has enough labels."""
    frame = prepare_snapshots(snapshots)
    mature = frame[frame["is_label_mature"].astype(bool)]
    as_of = pd.Timestamp(frame["as_of_date"].max())
    plan = plan_cutoffs(
        mature,
        as_of,
        config.horizon_days,
        config.validation_origins,
        lambda rows, what: label_problem(rows, what, config),
    )
    numeric, categorical = feature_columns(frame, mature)
    use_btyd = bool(
        config.use_btyd
        and "order_days_count" in frame.columns
        and (frame["order_days_count"] >= 1).all()
    )
    log.info(
        "validation origins (%s): %s; shipping at %s calibrated at %s",
        plan.mode,
        ", ".join(str(o.date.date()) for o in plan.origins),
        plan.ship.date.date(),
        plan.ship.calibration_cutoff.date(),
    )
    return Split(frame, plan, numeric, categorical, use_btyd)


# ---------------------------------------------------------------- 2-3. validate and select


def candidate_recipes(
    split: Split, fits: OutOfTimeFits, config: TrainingConfig, learners=None
) -> list[Recipe]:
    calibration_rows = min(
        fits.row_count(o.calibration_cutoff) for o in [*split.plan.origins, split.plan.ship]
    )
    return enumerate_recipes(
        list(config.candidates if learners is None else learners),
        split.plan,
        split.use_btyd,
        config.calibration,
        config.final_model,
        calibration_rows,
    )


def reference_scores(split: Split, fits: OutOfTimeFits) -> dict[str, dict]:
    """Scores that are reported but never shipped, per origin: the recency rule, and
    1 - P(alive) (shown to explain why it is never used: wrong sign for one-time buyers)."""
    scores: dict[str, dict] = {}
    for origin in split.plan.origins:
        if "days_since_last_order" in split.frame.columns:
            recency = fits.rows(origin.date)["days_since_last_order"].fillna(1e6).to_numpy()
            scores.setdefault(RANKING_ONLY, {})[origin.date] = recency
        if split.use_btyd:
            anti = 1 - fits.btyd_scores("bg_nbd", origin.date, origin.date).p_alive
            scores.setdefault("bg_nbd_one_minus_p_alive", {})[origin.date] = anti
    return scores


def reference_metrics(scores: dict[str, dict], split: Split, fits: OutOfTimeFits) -> pd.DataFrame:
    rows = []
    for name, by_origin in scores.items():
        for origin in split.plan.origins:
            y, score = fits.labels(origin.date), by_origin[origin.date]
            measure = (
                metrics.ranking_metrics if name == RANKING_ONLY else metrics.probability_metrics
            )
            rows.append(
                {
                    "model_name": name,
                    "learner": name.split("_one_minus")[0],
                    "model_kind": "baseline" if name == RANKING_ONLY else "anti_baseline",
                    "calibration": "none",
                    "final_rule": "scoring_date",
                    "origin_date": origin.date,
                    "calibration_cutoff": origin.calibration_cutoff,
                    **measure(y, score),
                }  # fmt: skip
            )
    return pd.DataFrame(rows)


def validate(recipes, split: Split, fits: OutOfTimeFits):
    """(per-origin metrics, per-recipe summary, scores per model name and origin)."""
    predictions = {
        r.name: {o.date: apply_recipe(r, o, fits) for o in split.plan.origins} for r in recipes
    }
    per_origin = origin_metrics(recipes, predictions, split.plan.origins, fits)
    reference = reference_scores(split, fits)
    if reference:
        per_origin = pd.concat(
            [per_origin, reference_metrics(reference, split, fits)], ignore_index=True
        )
    return per_origin, summarise(per_origin), {**predictions, **reference}


# ---------------------------------------------------------------- 4. promotion


def promotion(champion, champion_version, model_version, chosen, summary, predictions, split, fits):
    """(promoted, reason, the champion's evaluation row or None)."""
    if champion is None:
        return True, "no previous champion", None
    if champion_version == model_version:
        # the same data and config as the champion: comparing it with itself says nothing
        return True, "same data and config as the champion (rerun)", None
    latest = split.plan.origins[0]
    rows, y = fits.rows(latest.date), fits.labels(latest.date)
    trained_through = getattr(champion, "trained_through", None)
    challenger_loss = metrics.probability_metrics(y, predictions[chosen][latest.date])["log_loss"]
    if set(champion.features) - set(rows.columns):
        return True, "champion's features are no longer produced; challenger promoted", None
    if trained_through is not None and pd.Timestamp(trained_through) <= latest.date:
        scores = champion.predict(rows)
        champion_metrics = metrics.probability_metrics(y, scores)
        row = {"model_name": f"champion_{champion_version}", "model_kind": "champion",
               "learner": getattr(champion, "learner", "champion"), **champion_metrics,
               "origin_date": latest.date, "calibration_cutoff": latest.calibration_cutoff,
               "calibration": "none", "final_rule": "champion"}  # fmt: skip
        promoted = challenger_loss < champion_metrics["log_loss"]
        return (
            promoted,
            (
                f"challenger log loss {challenger_loss:.4f} vs champion "
                f"{champion_metrics['log_loss']:.4f} on validation cutoff {latest.date.date()} "
                "(out of time for both)"
            ),
            row,
        )
    recipe = getattr(champion, "name", None)
    known = summary[summary["model_name"] == recipe]
    if len(known):
        return (
            True,
            (
                f"champion's recipe {recipe} re-validated on this run's origins: mean log loss "
                f"{known['log_loss'].iloc[0]:.4f} vs chosen {chosen} "
                f"{summary.set_index('model_name').loc[chosen, 'log_loss']:.4f} (the champion was "
                "trained on outcomes that overlap the validation windows, so its recipe is compared)"
            ),
            None,
        )
    return (
        True,
        f"champion ({recipe}) cannot be validated out of time here; challenger promoted",
        None,
    )


# ---------------------------------------------------------------- 5. final model


def recipe_of(name: str, recipes: list[Recipe]) -> Recipe:
    return next(r for r in recipes if r.name == name)


def build_model(recipe: Recipe, origin: Origin, split: Split, fits: OutOfTimeFits) -> ChurnModel:
    """The recipe as it ships at the origin's date; its predictions equal apply_recipe's."""
    calibrator, blend = None, None
    if recipe.learner in BTYD_LEARNERS:
        pipeline = fits.btyd_learner(recipe.learner, origin.date)
        numeric, categorical, model_date = list(BTYD_INPUTS), [], origin.date
    elif recipe.learner == CONSTANT:
        rate = float(fits.labels(origin.calibration_cutoff).mean())
        pipeline, numeric, categorical = ConstantLearner(rate), [], []
        model_date = origin.calibration_cutoff
    else:
        model_date = origin.date if recipe.rule == "refit" else origin.calibration_cutoff
        pipeline = fits.pipeline(recipe.learner, model_date)
        numeric, categorical = list(split.numeric), list(split.categorical)
        if recipe.calibration == "btyd_blend":
            blend = fits.btyd_learner(BLEND_BTYD, origin.date)
    if recipe.learner != CONSTANT:
        calibrator = fit_calibrator(recipe, origin, fits)
    labelled = split.plan.labelled_by(model_date) or [origin.calibration_cutoff]
    return ChurnModel(
        name=recipe.name,
        learner=recipe.learner,
        numeric=numeric,
        categorical=categorical,
        pipeline=pipeline,
        calibrator=calibrator or Calibrator("none"),
        horizon_days=split.plan.horizon_days,
        blend_btyd=blend,
        trained_through=max(split.plan.label_end[c] for c in labelled),
    )


def as_of_scores(recipes, chosen, shipped, split, fits, config, summary) -> pd.DataFrame:
    """The as-of rows' shipped probabilities, plus (score_all_candidates) the best recipe of
    every learner and every baseline, for comparing them once the outcomes are known."""
    rows = fits.rows(split.plan.ship.date)
    out = pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy()})
    out["as_of_date"] = split.plan.ship.date
    out["shipped"] = shipped.predict(rows)
    if config.score_all_candidates:
        shipable = summary[summary["model_name"].isin([r.name for r in recipes])]
        best = shipable.loc[shipable.groupby("learner")["log_loss"].idxmin()]
        for name in best["model_name"]:
            out[name] = apply_recipe(recipe_of(name, recipes), split.plan.ship, fits)
        for baseline in shipable.loc[shipable["model_kind"] == "baseline", "model_name"]:
            out[baseline] = apply_recipe(recipe_of(baseline, recipes), split.plan.ship, fits)
    return out


# ---------------------------------------------------------------- 7. run record


def run_record(model_version, config, split, fits, chosen, decision, summary, per_origin,
               shipped, as_of, threshold, fingerprint) -> dict:  # fmt: skip
    recipe_row = summary.set_index("model_name").loc[chosen]
    baseline = best_baseline(summary)
    same_learner = summary[
        (summary["learner"] == recipe_row["learner"])
        & (summary["calibration"] == recipe_row["calibration"])
    ]
    chosen_origins = per_origin[per_origin["model_name"] == chosen]
    training_rows = len(fits.training_set(split.plan.ship.date, shipped.learner))
    model_params = getattr(shipped.pipeline, "named_steps", {}).get("model")
    return {
        "model_version": model_version,
        "package_version": __version__,
        "trained_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "as_of_date": split.plan.as_of,
        "validation_cutoff": split.plan.origins[0].date,
        "validation_origins": json.dumps([str(o.date.date()) for o in split.plan.origins]),
        "selection_mode": split.plan.mode,
        "training_cutoffs": len(split.plan.labelled_by(split.plan.ship.date)),
        "purged_training_cutoffs": len(split.plan.labelled_by(split.plan.origins[0].date)),
        "training_rows": training_rows,
        "validation_rows": int(chosen_origins["n"].sum()),
        "chosen_model": chosen,
        "learner": str(recipe_row["learner"]),
        "calibration": str(recipe_row["calibration"]),
        "final_model": str(recipe_row["final_rule"]),
        "model_kind": str(recipe_row["model_kind"]),
        "decision_threshold": threshold,
        "selection_metric": "mean_log_loss_over_origins",
        "promoted": decision[0],
        "decision_reason": decision[1],
        "best_baseline": str(baseline["model_name"]),
        "best_baseline_log_loss": float(baseline["log_loss"]),
        "share_above_0_99": float((as_of["shipped"] > 0.99).mean()),
        "trained_through": shipped.trained_through,
        "data_fingerprint": fingerprint,
        "features": json.dumps(shipped.features),
        "parameters": json.dumps(
            {
                "config": asdict(config),
                "model": {k: repr(v) for k, v in model_params.get_params().items()}
                if model_params is not None
                else {},
                "final_rule_evidence": dict(
                    zip(same_learner["final_rule"], same_learner["log_loss"], strict=True)
                ),
                "origin_log_loss": {
                    str(pd.Timestamp(d).date()): float(v)
                    for d, v in zip(
                        chosen_origins["origin_date"], chosen_origins["log_loss"], strict=True
                    )
                },
            },
            default=str,
        ),
        "metrics": json.dumps(
            {
                k: float(recipe_row[k])
                for k in (
                    "auc",
                    "pr_auc",
                    "log_loss",
                    "brier",
                    "ece",
                    "lift_top_decile",
                    "aggregate_error",
                    "log_loss_std",
                )  # fmt: skip
            }
        ),
    }


# ---------------------------------------------------------------- main entry


def train_churn_model(
    snapshots: pd.DataFrame,
    config: TrainingConfig | None = None,
    champion: ChurnModel | None = None,
    champion_version: str | None = None,
) -> TrainingResult:
    """Run every step. Raises InsufficientLabelsError when labels are too few."""
    config = config or TrainingConfig()
    started = time.perf_counter()
    split = split_snapshots(snapshots, config)
    fingerprint = data_fingerprint(snapshots)
    config_json = json.dumps(asdict(config), sort_keys=True, default=str)
    model_version = (
        "churn-"
        + hashlib.sha256((fingerprint + config_json + __version__).encode()).hexdigest()[:12]
    )
    fits = OutOfTimeFits(
        split.frame, split.plan, split.numeric, split.categorical, list(config.candidates),
        config.seed, config.max_training_rows, config.btyd_max_fit_customers,
    )  # fmt: skip
    recipes = candidate_recipes(split, fits, config)
    report_only = [
        r for r in candidate_recipes(split, fits, config, config.report_only_candidates)
        if r.learner in config.report_only_candidates
    ]  # fmt: skip
    per_origin, summary, predictions = validate(recipes + report_only, split, fits)
    chosen = choose(summary[summary["model_name"].isin([r.name for r in recipes])])
    log.info("chose %s out of %d recipes (mean validation log loss)", chosen, len(recipes))
    decision = promotion(
        champion, champion_version, model_version, chosen, summary, predictions, split, fits
    )
    if decision[2] is not None:
        per_origin = pd.concat([per_origin, pd.DataFrame([decision[2]])], ignore_index=True)
        summary = pd.concat([summary, summarise(pd.DataFrame([decision[2]]))], ignore_index=True)
    recipe = recipe_of(chosen, recipes)
    shipped = build_model(recipe, split.plan.ship, split, fits)
    as_of = as_of_scores(recipes + report_only, chosen, shipped, split, fits, config, summary)
    latest = split.plan.origins[0]
    step = time.perf_counter()
    importance = permutation_importance(
        build_model(recipe, latest, split, fits), fits.rows(latest.date),
        fits.labels(latest.date), config.importance_repeats, config.importance_max_rows,
        config.seed,
    )  # fmt: skip
    fits.timings["importance_seconds"] = time.perf_counter() - step
    pooled = np.concatenate([predictions[chosen][o.date] for o in split.plan.origins])
    pooled_y = np.concatenate([fits.labels(o.date) for o in split.plan.origins])
    threshold = metrics.best_f1_threshold(pooled_y, pooled)
    evaluation, curves = evaluation_frames(
        model_version, summary, per_origin, predictions, chosen, split.plan.origins, fits,
        threshold,
    )  # fmt: skip
    fits.timings["total_seconds"] = time.perf_counter() - started
    run = run_record(
        model_version, config, split, fits, chosen, decision, summary, per_origin, shipped,
        as_of, threshold, fingerprint,
    )  # fmt: skip
    backtest = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": fits.rows(o.date)["customer_id"].astype(str).to_numpy(),
                    "cutoff_date": o.date,
                    "churn_probability": predictions[chosen][o.date],
                    LABEL_COLUMN: fits.labels(o.date),
                }
            )  # fmt: skip
            for o in split.plan.origins
        ],
        ignore_index=True,
    )
    return TrainingResult(
        model_version=model_version, challenger=shipped, run=run, evaluation=evaluation,
        origin_evaluation=per_origin, curves=curves, validation_predictions=backtest,
        as_of_predictions=as_of, importance=importance, timings=dict(fits.timings),
    )  # fmt: skip
