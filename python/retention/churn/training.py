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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from retention import __version__
from retention.churn import metrics
from retention.churn.candidates import CANDIDATES
from retention.churn.evaluation import RANKING_ONLY, evaluation_frames
from retention.churn.fits import (
    ENSEMBLE,
    OutOfTimeFits,
    calling_thread_limit,
    with_thread_limit,
)
from retention.churn.frames import LABEL_COLUMN, feature_columns, prepare_snapshots
from retention.churn.importance import permutation_importance
from retention.churn.model import BTYD_INPUTS, ChurnModel, ConstantLearner
from retention.churn.plan import CutoffPlan, InsufficientLabelsError, Origin, plan_cutoffs
from retention.churn.recipes import (
    BLEND_BTYD,
    BTYD_LEARNERS,
    CONSTANT,
    Recipe,
    apply_recipe,
    enumerate_recipes,
    fit_calibrator,
    models_needed,
    scores_needed,
)
from retention.churn.selection import best_baseline, choose, origin_metrics, summarise
from retention.definitions import snapshot_horizon_days

log = logging.getLogger(__name__)

__all__ = ["InsufficientLabelsError", "TrainingConfig", "TrainingResult", "train_churn_model"]


@dataclass
class TrainingConfig:
    # The label horizon (days). None: read from the snapshots' label windows
    # (retention.definitions.snapshot_horizon_days); the build passes int_cutoffs_generated's.
    horizon_days: int | None = None
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
    # learners gain little while the cost grows linearly. 150,000 since 2026-12-04 (250,000
    # before): on the 100k generated warehouse each learner's out-of-time log loss was the
    # same from 250k down to 150k rows in about half the fit time, and the CDNOW origins of
    # the generalization benchmark held as before (BENCHMARKS.md, "Training cost").
    max_training_rows: int = 150_000
    # Above this many customers, training reads a deterministic sample of whole customers
    # from the snapshot mart (retention.churn.reads.training_rows): selection, validation,
    # the baselines and importance run on it; ml_churn_scores still scores everyone. The
    # fits' row cap is reached long before (150k rows are ~19k customers x 8 cutoffs), so
    # this bounds the validation predictions and the memory, not how many rows a fit sees.
    max_training_customers: int = 200_000
    btyd_max_fit_customers: int = 25_000  # BTYD parameters from a sample; everyone is scored
    score_all_candidates: bool = False  # also score the as-of rows with every learner's best
    importance_repeats: int = 2
    importance_max_rows: int = 5000
    # Models fitted at once, in threads (RETENTION_ML_FIT_WORKERS in a build). Each fit is
    # single-threaded and seeded, so this changes the time, not the models; it is left
    # out of the model version.
    fit_workers: int = 1


# TrainingConfig fields that change how long a run takes, not what it produces.
EXECUTION_ONLY = ("fit_workers",)


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
        # only what the plan and label_problem read: the checks filter these rows often
        mature[["cutoff_date", "label_window_end_date", LABEL_COLUMN]],
        as_of,
        config.horizon_days or snapshot_horizon_days(frame),
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


@dataclass
class Selection:
    """Every recipe validated at every origin, and the one chosen to ship."""

    recipes: list[Recipe]  # the shippable ones
    per_origin: pd.DataFrame  # one row per model and origin
    summary: pd.DataFrame  # one row per model: means over the origins
    predictions: dict[str, dict]  # model name -> origin date -> scores of that origin's rows
    chosen: str

    @property
    def recipe(self) -> Recipe:
        return next(r for r in self.recipes if r.name == self.chosen)

    def recipe_named(self, name: str, extra: list[Recipe]) -> Recipe:
        return next(r for r in self.recipes + extra if r.name == name)


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


def report_only_recipes(split: Split, fits: OutOfTimeFits, config: TrainingConfig):
    extra = config.report_only_candidates
    return [r for r in candidate_recipes(split, fits, config, extra) if r.learner in extra]


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
        ranking = name == RANKING_ONLY
        measure = metrics.ranking_metrics if ranking else metrics.probability_metrics
        for origin in split.plan.origins:
            rows.append(
                {
                    "model_name": name,
                    "learner": name.split("_one_minus")[0],
                    "model_kind": "baseline" if ranking else "anti_baseline",
                    "calibration": "none",
                    "final_rule": "scoring_date",
                    "origin_date": origin.date,
                    "calibration_cutoff": origin.calibration_cutoff,
                    **measure(fits.labels(origin.date), by_origin[origin.date]),
                }
            )
    return pd.DataFrame(rows)


def select_recipe(split: Split, fits: OutOfTimeFits, config: TrainingConfig) -> Selection:
    """Validate every recipe (and the report-only ones) at every origin; choose among the
    shippable ones."""
    recipes = candidate_recipes(split, fits, config)
    validated = recipes + report_only_recipes(split, fits, config)
    origins = split.plan.origins
    fits.prefetch(
        models_needed(validated, origins), config.fit_workers, scores_needed(validated, origins)
    )
    predictions = {r.name: {o.date: apply_recipe(r, o, fits) for o in origins} for r in validated}
    per_origin = origin_metrics(validated, predictions, origins, fits)
    reference = reference_scores(split, fits)
    if reference:
        per_origin = pd.concat(
            [per_origin, reference_metrics(reference, split, fits)], ignore_index=True
        )
    summary = summarise(per_origin)
    chosen = choose(summary[summary["model_name"].isin([r.name for r in recipes])])
    log.info("chose %s out of %d recipes (mean validation log loss)", chosen, len(recipes))
    return Selection(recipes, per_origin, summary, {**predictions, **reference}, chosen)


# ---------------------------------------------------------------- 4. promotion


@dataclass
class Decision:
    promoted: bool
    reason: str
    champion_row: dict | None = None  # the champion's metrics at the latest origin


def promotion(champion, champion_version, model_version, selection, split, fits) -> Decision:
    """Whether the chosen recipe replaces the champion."""
    if champion is None:
        return Decision(True, "no previous champion")
    if champion_version == model_version:
        # the same data and config as the champion: comparing it with itself says nothing
        return Decision(True, "same data and config as the champion (rerun)")
    latest = split.plan.origins[0]
    rows = fits.rows(latest.date)
    if set(champion.features) - set(rows.columns):
        return Decision(True, "champion's features are no longer produced; challenger promoted")
    trained_through = getattr(champion, "trained_through", None)
    if trained_through is not None and pd.Timestamp(trained_through) <= latest.date:
        return _compare_out_of_time(champion, champion_version, selection, latest, fits)
    recipe = getattr(champion, "name", None)
    means = selection.summary.set_index("model_name")["log_loss"]
    if recipe in means.index:
        return Decision(
            True,
            f"champion's recipe {recipe} re-validated on this run's origins: mean log loss "
            f"{means[recipe]:.4f} vs chosen {selection.chosen} {means[selection.chosen]:.4f} "
            "(the champion was trained on outcomes that overlap the validation windows, so its "
            "recipe is compared)",
        )
    return Decision(
        True, f"champion ({recipe}) cannot be validated out of time here; challenger promoted"
    )


def _compare_out_of_time(champion, version, selection, latest: Origin, fits) -> Decision:
    """Both models out of time at the latest origin: compare their predictions there."""
    y = fits.labels(latest.date)
    challenger = metrics.probability_metrics(
        y, selection.predictions[selection.chosen][latest.date]
    )
    incumbent = metrics.probability_metrics(y, champion.predict(fits.rows(latest.date)))
    row = {
        "model_name": f"champion_{version}",
        "model_kind": "champion",
        "learner": getattr(champion, "learner", "champion"),
        "calibration": "none",
        "final_rule": "champion",
        "origin_date": latest.date,
        "calibration_cutoff": latest.calibration_cutoff,
        **incumbent,
    }
    reason = (
        f"challenger log loss {challenger['log_loss']:.4f} vs champion "
        f"{incumbent['log_loss']:.4f} on validation cutoff {latest.date.date()} "
        "(out of time for both)"
    )
    return Decision(challenger["log_loss"] < incumbent["log_loss"], reason, row)


def with_champion(selection: Selection, decision: Decision) -> Selection:
    if decision.champion_row is None:
        return selection
    row = pd.DataFrame([decision.champion_row])
    selection.per_origin = pd.concat([selection.per_origin, row], ignore_index=True)
    selection.summary = pd.concat([selection.summary, summarise(row)], ignore_index=True)
    return selection


# ---------------------------------------------------------------- 5. final model


def build_model(recipe: Recipe, origin: Origin, split: Split, fits: OutOfTimeFits) -> ChurnModel:
    """The recipe as it ships at the origin's date; its predictions equal apply_recipe's."""
    blend = None
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
    labelled = split.plan.labelled_by(model_date) or [origin.calibration_cutoff]
    return ChurnModel(
        name=recipe.name,
        learner=recipe.learner,
        numeric=numeric,
        categorical=categorical,
        pipeline=pipeline,
        calibrator=fit_calibrator(recipe, origin, fits),
        horizon_days=split.plan.horizon_days,
        blend_btyd=blend,
        trained_through=max(split.plan.label_end[c] for c in labelled),
    )


def as_of_scores(selection, shipped, split, fits, config) -> pd.DataFrame:
    """The as-of rows' shipped probabilities, plus (score_all_candidates) the best recipe of
    every learner and every baseline, for comparing them once the outcomes are known."""
    rows = fits.rows(split.plan.ship.date)
    out = pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy()})
    out["as_of_date"] = split.plan.ship.date
    out["shipped"] = shipped.predict(rows)
    if not config.score_all_candidates:
        return out
    extra = report_only_recipes(split, fits, config)
    names = {r.name for r in selection.recipes + extra}
    summary = selection.summary[selection.summary["model_name"].isin(names)]
    best = summary.loc[summary.groupby("learner")["log_loss"].idxmin(), "model_name"]
    baselines = summary.loc[summary["model_kind"] == "baseline", "model_name"]
    names = list(dict.fromkeys([*best, *baselines]))
    recipes = [selection.recipe_named(name, extra) for name in names]
    fits.prefetch(models_needed(recipes, [split.plan.ship]), config.fit_workers)
    for name, recipe in zip(names, recipes, strict=True):
        out[name] = apply_recipe(recipe, split.plan.ship, fits)
    return out


# ---------------------------------------------------------------- 6. explanation


def importance_of(recipe: Recipe, split: Split, fits: OutOfTimeFits, config) -> pd.DataFrame:
    """Permutation importance of the recipe as fitted for the latest origin, on its rows."""
    started = time.perf_counter()
    latest = split.plan.origins[0]
    model = build_model(recipe, latest, split, fits)
    importance = permutation_importance(
        model,
        fits.rows(latest.date),
        fits.labels(latest.date),
        config.importance_repeats,
        config.importance_max_rows,
        config.seed,
    )
    fits.timings["importance_seconds"] = time.perf_counter() - started
    return importance


def ship_and_explain(selection: Selection, split: Split, fits: OutOfTimeFits, config):
    """The shipped model, its as-of scores, and the importance. The importance reads the
    latest origin's models, fitted during selection, so with more than one fit worker it
    is computed in a thread next to the final fit instead of after it."""
    if config.fit_workers <= 1:
        explained = None
    else:
        side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-importance")
        threads = calling_thread_limit()
        explained = side.submit(with_thread_limit, threads, importance_of,
                                selection.recipe, split, fits, config)  # fmt: skip
        side.shutdown(wait=False)
    fits.prefetch(models_needed([selection.recipe], [split.plan.ship]), config.fit_workers)
    shipped = build_model(selection.recipe, split.plan.ship, split, fits)
    as_of = as_of_scores(selection, shipped, split, fits, config)
    if explained is None:
        return shipped, as_of, importance_of(selection.recipe, split, fits, config)
    return shipped, as_of, explained.result()


def backtest_predictions(selection: Selection, split: Split, fits) -> pd.DataFrame:
    """The chosen recipe's predictions at every validation origin."""
    parts = [
        pd.DataFrame(
            {
                "customer_id": fits.rows(o.date)["customer_id"].astype(str).to_numpy(),
                "cutoff_date": o.date,
                "churn_probability": selection.predictions[selection.chosen][o.date],
                LABEL_COLUMN: fits.labels(o.date),
            }
        )
        for o in split.plan.origins
    ]
    return pd.concat(parts, ignore_index=True)


def decision_threshold(selection: Selection, split: Split, fits) -> float:
    """The threshold maximising F1 on the chosen recipe's pooled validation predictions."""
    origins = split.plan.origins
    scores = np.concatenate([selection.predictions[selection.chosen][o.date] for o in origins])
    labels = np.concatenate([fits.labels(o.date) for o in origins])
    return metrics.best_f1_threshold(labels, scores)


# ---------------------------------------------------------------- 7. run record

METRIC_KEYS = (
    "auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "lift_top_decile",
    "aggregate_error",
    "log_loss_std",
)


def run_parameters(config, selection: Selection, shipped: ChurnModel) -> str:
    """Config, estimator parameters, and the evidence behind the choice, as JSON."""
    chosen = selection.summary.set_index("model_name").loc[selection.chosen]
    summary = selection.summary
    same = summary[
        (summary["learner"] == chosen["learner"])
        & (summary["calibration"] == chosen["calibration"])
    ]
    at_origins = selection.per_origin[selection.per_origin["model_name"] == selection.chosen]
    model = getattr(shipped.pipeline, "named_steps", {}).get("model")
    return json.dumps(
        {
            "config": asdict(config),
            "model": {k: repr(v) for k, v in model.get_params().items()} if model else {},
            "final_rule_evidence": dict(zip(same["final_rule"], same["log_loss"], strict=True)),
            "origin_log_loss": {
                str(pd.Timestamp(d).date()): float(v)
                for d, v in zip(at_origins["origin_date"], at_origins["log_loss"], strict=True)
            },
        },
        default=str,
    )


def run_record(
    model_version, config, split, fits, selection, decision, shipped, as_of, threshold, fingerprint
) -> dict:
    chosen = selection.summary.set_index("model_name").loc[selection.chosen]
    baseline = best_baseline(selection.summary)
    at_origins = selection.per_origin[selection.per_origin["model_name"] == selection.chosen]
    plan = split.plan
    return {
        "model_version": model_version,
        "package_version": __version__,
        "trained_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "as_of_date": plan.as_of,
        "validation_cutoff": plan.origins[0].date,
        "validation_origins": json.dumps([str(o.date.date()) for o in plan.origins]),
        "selection_mode": plan.mode,
        "training_cutoffs": len(plan.labelled_by(plan.ship.date)),
        "purged_training_cutoffs": len(plan.labelled_by(plan.origins[0].date)),
        "training_rows": len(fits.training_set(plan.ship.date, shipped.learner)),
        "validation_rows": int(at_origins["n"].sum()),
        "chosen_model": selection.chosen,
        "learner": str(chosen["learner"]),
        "calibration": str(chosen["calibration"]),
        "final_model": str(chosen["final_rule"]),
        "model_kind": str(chosen["model_kind"]),
        "decision_threshold": threshold,
        "selection_metric": "mean_log_loss_over_origins",
        "promoted": decision.promoted,
        "decision_reason": decision.reason,
        "best_baseline": str(baseline["model_name"]),
        "best_baseline_log_loss": float(baseline["log_loss"]),
        "share_above_0_99": float((as_of["shipped"] > 0.99).mean()),
        "trained_through": shipped.trained_through,
        "data_fingerprint": fingerprint,
        "features": json.dumps(shipped.features),
        "parameters": run_parameters(config, selection, shipped),
        "metrics": json.dumps({k: float(chosen[k]) for k in METRIC_KEYS}),
    }


# ---------------------------------------------------------------- main entry


def model_version_of(fingerprint: str, config: TrainingConfig) -> str:
    """Derived from the data, the config and the package version: reruns are idempotent."""
    settings = {k: v for k, v in asdict(config).items() if k not in EXECUTION_ONLY}
    config_json = json.dumps(settings, sort_keys=True, default=str)
    digest = hashlib.sha256((fingerprint + config_json + __version__).encode()).hexdigest()
    return "churn-" + digest[:12]


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
    model_version = model_version_of(fingerprint, config)
    fits = OutOfTimeFits(
        split.frame,
        split.plan,
        split.numeric,
        split.categorical,
        list(config.candidates),
        config.seed,
        config.max_training_rows,
        config.btyd_max_fit_customers,
    )
    selection = select_recipe(split, fits, config)
    decision = promotion(champion, champion_version, model_version, selection, split, fits)
    selection = with_champion(selection, decision)
    shipped, as_of, importance = ship_and_explain(selection, split, fits, config)
    threshold = decision_threshold(selection, split, fits)
    evaluation, curves = evaluation_frames(
        model_version, selection, split.plan.origins, fits, threshold
    )
    fits.timings["total_seconds"] = time.perf_counter() - started
    run = run_record(
        model_version,
        config,
        split,
        fits,
        selection,
        decision,
        shipped,
        as_of,
        threshold,
        fingerprint,
    )
    return TrainingResult(
        model_version=model_version,
        challenger=shipped,
        run=run,
        evaluation=evaluation,
        origin_evaluation=selection.per_origin,
        curves=curves,
        validation_predictions=backtest_predictions(selection, split, fits),
        as_of_predictions=as_of,
        importance=importance,
        timings=dict(fits.timings),
    )
