"""The functions the dbt Python models call (models/ml/*.py stay one-liners)."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import fields

import pandas as pd

from retention.churn import reads
from retention.churn.btyd import BtydModel, customer_lifetime_value, rfm_from_snapshots
from retention.churn.candidates import CANDIDATES, EXTRA_CANDIDATES
from retention.churn.fits import SERIAL_LEARNERS, calling_thread_limit
from retention.churn.frames import prepare_snapshots
from retention.churn.registry import Registry
from retention.churn.scoring import score_customers
from retention.churn.training import InsufficientLabelsError, TrainingConfig, train_churn_model
from retention.dbt_logging import forward_to_dbt
from retention.definitions import snapshot_horizon_days

log = logging.getLogger("retention.churn")


@contextmanager
def ml_threads():
    """Cap BLAS/OpenMP threads (RETENTION_ML_THREADS, default 1). dbt runs Python
    models in threads on the same cores; oversubscribed, HistGradientBoosting was
    measured 50x slower (30 s instead of 0.6 s)."""
    from threadpoolctl import threadpool_limits

    with (
        forward_to_dbt("retention.churn"),
        threadpool_limits(limits=int(os.environ.get("RETENTION_ML_THREADS", "1"))),
    ):
        yield


RUN_COLUMNS = [
    "model_version",
    "package_version",
    "trained_at",
    "as_of_date",
    "validation_cutoff",
    "validation_origins",
    "selection_mode",
    "training_cutoffs",
    "purged_training_cutoffs",
    "training_rows",
    "validation_rows",
    "chosen_model",
    "learner",
    "model_kind",
    "calibration",
    "final_model",
    "decision_threshold",
    "selection_metric",
    "best_baseline",
    "best_baseline_log_loss",
    "share_above_0_99",
    "trained_through",
    "promoted",
    "decision_reason",
    "is_champion",
    "data_fingerprint",
    "features",
    "parameters",
    "metrics",
    "artifact_path",
]


# The columns (and types) of the ML tables when there is nothing to put in them: a build
# with churn_on_insufficient_labels: skip and no champion still builds every mart over
# them, with no rows (README, "Churn model").
METRIC_TYPES = {
    "n": "Int64", "base_rate": "float64", "auc": "float64", "pr_auc": "float64",
    "lift_top_decile": "float64", "log_loss": "float64", "brier": "float64", "ece": "float64",
    "aggregate_error": "float64", "mean_prediction": "float64", "share_above_0_99": "float64",
}  # fmt: skip
RECIPE_TYPES = {
    "model_version": "string", "model_name": "string", "model_kind": "string",
    "learner": "string", "calibration": "string", "final_rule": "string",
}  # fmt: skip
TABLE_COLUMNS = {
    "evaluation": {
        **RECIPE_TYPES, **METRIC_TYPES, "origins": "Int64",
        **{f"{m}_{s}": "float64" for m in ("log_loss", "auc") for s in ("std", "min", "max")},
        "validation_cutoff": "datetime64[ns]", "is_chosen": "bool", "is_shortlisted": "bool",
        "threshold": "float64", "accuracy": "float64", "precision": "float64",
        "recall": "float64", "f1": "float64", "true_positives": "Int64",
        "false_positives": "Int64", "true_negatives": "Int64", "false_negatives": "Int64",
    },
    "origins": {
        **RECIPE_TYPES, "origin_date": "datetime64[ns]", "calibration_cutoff": "datetime64[ns]",
        **METRIC_TYPES,
    },
    "curves": {
        "model_version": "string", "model_name": "string", "curve": "string",
        "bucket": "Int64", "customers": "Int64", "observed_rate": "float64",
        "mean_predicted": "float64", "lift": "float64", "cumulative_capture": "float64",
    },
    "importance": {
        "scope": "string", "feature": "string", "family": "string", "importance": "float64",
        "importance_std": "float64", "rows": "Int64", "repeats": "Int64",
        "model_version": "string",
    },
}  # fmt: skip
SCORE_COLUMNS = {
    "customer_id": "string", "as_of_date": "datetime64[ns]", "churn_probability": "float64",
    "risk_tier": "string", "model_version": "string", "model_name": "string",
    "reason_1": "string", "reason_1_family": "string", "reason_2": "string",
    "reason_2_family": "string", "reason_3": "string", "reason_3_family": "string",
}  # fmt: skip


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """No rows, but every column with its type (DuckDB cannot make a table of no columns)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def fit_workers() -> int:
    """How many churn models fit at once (RETENTION_ML_FIT_WORKERS; default 2, or 1 on a
    one-core machine). Its fits are single-threaded (ml_threads), so two share the cores
    well; the recommendation evaluation runs beside training and shares them too
    (docs/recommendations.md, "Cost")."""
    value = os.environ.get("RETENTION_ML_FIT_WORKERS")
    if value:
        return max(1, int(value))
    return min(2, len(os.sched_getaffinity(0)))


def training_config(settings: dict) -> TrainingConfig:
    """Build the config from dbt model config values (which may arrive as strings)."""
    config = TrainingConfig(fit_workers=fit_workers())
    for f in fields(TrainingConfig):
        value = settings.get(f.name)
        if value is None:
            continue
        default = getattr(config, f.name)
        if isinstance(default, bool):
            value = str(value).lower() in ("true", "1", "yes")
        elif isinstance(default, int) or f.name == "horizon_days":  # horizon: int | None
            value = int(value)
        elif isinstance(default, tuple):
            value = tuple(
                v.strip() for v in str(value).strip("[]()").replace("'", "").split(",") if v.strip()
            )
        setattr(config, f.name, value)
    return config


def run_training(
    snapshots,
    settings: dict,
    registry: Registry | None = None,
    activity: Callable[[], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Train and register; returns the whole run history (fct_model_runs). `snapshots` is
    the snapshot mart as a DuckDB relation (read here: all of it, or a customer sample
    above `churn_max_training_customers`) or a DataFrame. `activity`
    loads the customer-day activity, read only to say which var change would give enough
    labels when there are too few."""
    with ml_threads():
        return _run_training(snapshots, settings, registry or Registry(), activity)


def insufficient_labels_advice(
    snapshots: pd.DataFrame, settings: dict, activity: Callable[[], pd.DataFrame] | None
) -> str:
    """The smallest var change that would give enough labels (purchase churn), or the
    generic list of what can help."""
    generic = (
        "Add history (more data), lower min_history_days, shorten churn_horizon_days or "
        "snapshot_every_days, or set churn_on_insufficient_labels: skip to build without a "
        "model."
    )
    if activity is None or settings.get("churn_definition", "purchase") != "purchase":
        return generic
    from retention.churn.label_advice import SpineSettings, advice, order_days_from_activity

    config = training_config(settings)
    spine = SpineSettings(
        as_of=pd.Timestamp(pd.to_datetime(snapshots["as_of_date"]).max()),
        horizon_days=config.horizon_days or snapshot_horizon_days(snapshots),
        snapshot_every_days=int(settings.get("snapshot_every_days") or 28),
        max_training_snapshots=int(settings.get("max_training_snapshots") or 12),
        min_history_days=int(settings.get("min_history_days") or 0),
        min_labelled_rows=config.min_labelled_rows,
        min_class_rows=config.min_class_rows,
        validation_origins=config.validation_origins,
    )
    return advice(order_days_from_activity(activity()), spine)


def _run_training(
    snapshots,
    settings: dict,
    registry: Registry,
    activity: Callable[[], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    config = training_config(settings)
    snapshots, read_customers, customers = reads.training_rows(
        snapshots, config.max_training_customers
    )
    if read_customers < customers:
        log.info(
            "training reads a deterministic sample of %d of %d customers "
            "(churn_max_training_customers); ml_churn_scores scores all of them",
            read_customers,
            customers,
        )
    champion_version, champion, load_problem = registry.load_champion()
    if load_problem:
        log.warning("%s; training as if there were none", load_problem)
    started = time.perf_counter()
    log.info("training on %d snapshot rows (champion: %s)", len(snapshots), champion_version)
    try:
        result = train_churn_model(snapshots, config, champion, champion_version)
    except InsufficientLabelsError as error:
        if config.on_insufficient_labels == "skip":
            log.warning("Churn model skipped: %s; keeping champion %s", error, champion_version)
            return run_history(registry)
        raise InsufficientLabelsError(
            f"Cannot train a churn model: {error}. "
            + insufficient_labels_advice(snapshots, settings, activity)
        ) from error
    if result.model_version == champion_version:
        # A rerun on the same data and config. Training is seeded, so it reproduced the
        # champion; keep its record as first written (when it was trained, why it was
        # promoted), so a rebuild leaves the registry and fct_model_runs unchanged.
        first = registry.run(champion_version)
        for key in ("trained_at", "promoted", "decision_reason"):
            result.run[key] = first[key] if first else result.run[key]
    registry.save_run(result)
    if result.run["promoted"]:
        registry.set_champion(result.model_version)
    log.info(
        "trained %s in %.1fs: chose %s; promoted=%s (%s)",
        result.model_version,
        time.perf_counter() - started,
        result.run["chosen_model"],
        result.run["promoted"],
        result.run["decision_reason"],
    )
    return run_history(registry)


def run_history(registry: Registry) -> pd.DataFrame:
    runs = registry.runs()
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    runs["is_champion"] = runs["model_version"].eq(registry.champion_version())
    return runs.reindex(columns=RUN_COLUMNS)


def evaluation_history(registry: Registry | None = None, table: str = "evaluation") -> pd.DataFrame:
    """One of the runs' stored tables (evaluation, curves, origins, importance) for every
    registered run, with its model_version."""
    registry = registry or Registry()
    runs = registry.runs()
    if runs.empty:
        with forward_to_dbt("retention.churn"):
            log.warning("no churn model in the registry: the %s table is empty", table)
        return empty_frame(TABLE_COLUMNS[table])
    parts = [registry.table(v, table).assign(model_version=v) for v in runs["model_version"]]
    parts = [p for p in parts if not p.empty]
    if not parts:  # e.g. importance when only the constant rate has shipped: no features
        return empty_frame(TABLE_COLUMNS[table])
    return pd.concat(parts, ignore_index=True)


def run_scoring(
    snapshots,
    settings: dict,
    registry: Registry | None = None,
    batch_rows: int = reads.SCORING_BATCH_ROWS,
) -> pd.DataFrame:
    """Score the as-of rows with the champion, keep them in the score history, return it.
    ``snapshots``: fct_customer_snapshots, the relation dbt passes (or a DataFrame); only
    the rows and columns scoring needs are read, ``batch_rows`` customers at a time."""
    registry = registry or Registry()
    version = registry.champion_version()
    if version is None:
        if str(settings.get("on_insufficient_labels")) != "skip":
            raise RuntimeError(
                "No champion churn model in the registry "
                f"({registry.root}). Build ml_churn_training first (dbt build runs it)."
            )
        with forward_to_dbt("retention.churn"):
            log.warning(
                "no churn scores at this as_of_date: no model was trained (too few labelled "
                "rows, churn_on_insufficient_labels: skip) and there is no earlier champion. "
                "Churn probabilities are null; the action list ranks on the BG/NBD baseline."
            )
        history = registry.score_history()
        return history if len(history.columns) else empty_frame(SCORE_COLUMNS)
    model = registry.load_model(version)
    with ml_threads():
        scores = _score_in_batches(
            reads.as_relation(snapshots), model, version, settings, batch_rows
        )
    registry.save_scores(scores)
    return registry.score_history()


# Learners whose fitted pipelines can predict in several threads at once: scikit-learn
# only. Keras predicts through TensorFlow's process-wide state and the BTYD learners through
# compiled PyTensor functions, so a model with either scores one batch at a time.
THREAD_SAFE_LEARNERS = frozenset(CANDIDATES + EXTRA_CANDIDATES) - frozenset(SERIAL_LEARNERS)


def scoring_workers(model) -> int:
    """Batches scored at once: fit_workers() for a scikit-learn model, else one."""
    if model.learner not in THREAD_SAFE_LEARNERS or model.blend_btyd is not None:
        return 1
    return fit_workers()


def _score_in_batches(snapshots, model, version: str, settings: dict, batch_rows: int):
    """Score the as-of rows a batch at a time, up to scoring_workers(model) batches at once
    in threads (each batch on its own, so the result is the same with any count; the
    predictions run in compiled code that releases the GIL). Batches are read in order and
    at most that many are held."""
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    reference = reads.retained_reference(snapshots, model)
    workers, threads = scoring_workers(model), calling_thread_limit()
    parts: list[pd.DataFrame] = []

    def score(batch: pd.DataFrame) -> pd.DataFrame:
        # OpenMP's thread count is per native thread: a new thread starts at the default.
        with threadpool_limits(limits=threads):
            return score_customers(
                batch,
                model,
                version,
                reference,
                high_risk=float(settings.get("high_risk_threshold") or 0.7),
                medium_risk=float(settings.get("medium_risk_threshold") or 0.4),
            )

    def keep(part: pd.DataFrame) -> None:
        parts.append(part)
        # Inside ml_threads: its forwarder is what takes the lines to dbt's log.
        log.info("scored %d customers so far", sum(len(p) for p in parts))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="churn-score") as pool:
        pending: deque = deque()
        for batch in reads.scoring_batches(snapshots, model, batch_rows):
            pending.append(pool.submit(score, batch))
            if len(pending) >= workers:
                keep(pending.popleft().result())
        while pending:
            keep(pending.popleft().result())
    if not parts:
        raise ValueError("no scoring rows (is_scoring_cutoff) in the snapshot table")
    scores = pd.concat(parts, ignore_index=True)
    for column in scores.columns[scores.columns.str.startswith("reason_")]:
        # A batch whose reasons are all null typed its column object: type it as one frame.
        scores[column] = scores[column].tolist()
    log.info(
        "scored %d customers with %s in %.1fs (%d at a time)",
        len(scores),
        version,
        time.perf_counter() - started,
        workers,
    )
    return scores


def run_customer_value(snapshots, settings: dict) -> pd.DataFrame:
    """BG/NBD P(alive) and expected purchases, Gamma-Gamma CLV, at as_of_date.
    ``snapshots``: fct_customer_snapshots (relation or DataFrame); only the as-of rows of
    buyers and the columns BTYD reads are read."""
    # Minutes on large data: its stages and timings go to dbt's log like training's.
    with forward_to_dbt("retention.churn"):
        return _run_customer_value(reads.buyers_at_as_of(reads.as_relation(snapshots)), settings)


CUSTOMER_VALUE_COLUMNS = [
    "customer_id",
    "as_of_date",
    "p_alive",
    "expected_purchases_horizon",
    "p_no_purchase_horizon",
    "expected_purchases_clv_horizon",
    "clv",
    "clv_horizon_days",
]


def _run_customer_value(snapshots: pd.DataFrame, settings: dict) -> pd.DataFrame:
    # The purchase horizon of the BTYD expectations, from the model's config (churn_horizon_days).
    horizon = int(settings["churn_horizon_days"])
    clv_horizon = int(settings.get("clv_horizon_days") or 365)
    frame = prepare_snapshots(snapshots)
    frame = frame[frame["is_scoring_cutoff"].astype(bool) & (frame["order_days_count"] >= 1)]
    frame = frame.reset_index(drop=True)
    if len(frame) < 50:
        log.warning("customer value skipped: %d buyers at as_of_date (need 50)", len(frame))
        return pd.DataFrame(columns=CUSTOMER_VALUE_COLUMNS)
    started = time.perf_counter()
    # Parameters from a deterministic sample (churn_btyd_max_fit_customers, as in training);
    # every buyer is scored with them.
    sample = training_config(settings).btyd_max_fit_customers
    log.info(
        "customer value: fitting BG/NBD on %d of %d buyers at as_of_date",
        min(sample, len(frame)),
        len(frame),
    )
    rfm = rfm_from_snapshots(frame)
    bg_nbd = BtydModel("bg_nbd").fit(rfm, sample)
    horizon_scores = bg_nbd.score(rfm, horizon)
    clv_scores = bg_nbd.score(rfm, clv_horizon)
    log.info("customer value: BG/NBD fitted and scored in %.1fs", time.perf_counter() - started)
    clv = _gamma_gamma_clv(bg_nbd, rfm, clv_horizon, started)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "as_of_date": frame["as_of_date"].dt.date,
            "p_alive": horizon_scores.p_alive,
            "expected_purchases_horizon": horizon_scores.expected_purchases,
            "p_no_purchase_horizon": horizon_scores.p_no_purchase,
            "expected_purchases_clv_horizon": clv_scores.expected_purchases,
            "clv": clv,
            "clv_horizon_days": clv_horizon,
        }
    )[CUSTOMER_VALUE_COLUMNS]


def _gamma_gamma_clv(bg_nbd, rfm: pd.DataFrame, clv_horizon: int, started: float):
    """CLV over the horizon; all null, with the reason logged, when it cannot be computed."""
    step = time.perf_counter()
    unknown = int(rfm["monetary_value"].isna().sum()) if "monetary_value" in rfm else len(rfm)
    try:
        clv = customer_lifetime_value(bg_nbd, rfm, clv_horizon)
    except ValueError as error:
        log.warning(
            "CLV not computed: %s. CLV and revenue at risk are null; the action list values "
            "customers by expected orders x value_per_order (README, 'Orders without amounts')",
            error,
        )
        return pd.Series([float("nan")] * len(rfm))
    if unknown:
        log.warning(
            "CLV null for %d of %d buyers: they have an order without an amount "
            "(README, 'Orders without amounts')",
            unknown,
            len(rfm),
        )
    log.info(
        "customer value: Gamma-Gamma CLV (%d days) in %.1fs; %d customers in %.1fs",
        clv_horizon,
        time.perf_counter() - step,
        len(rfm),
        time.perf_counter() - started,
    )
    return clv


def run_monitoring(
    outcomes: pd.DataFrame,
    snapshots,
    registry: Registry | None = None,
) -> pd.DataFrame:
    """fct_model_monitoring: matured production scores and registry backtests against
    their outcomes (ml_churn_outcomes, computed in SQL), score and feature drift
    (retention.churn.monitoring). ``snapshots``: fct_customer_snapshots (relation or
    DataFrame), read one cutoff and the drift features at a time."""
    from retention.churn.monitoring import DRIFT_FEATURES, model_monitoring

    registry = registry or Registry()
    runs = registry.runs()
    trained_as_of = (
        dict(zip(runs["model_version"], runs["as_of_date"], strict=True)) if len(runs) else {}
    )
    snapshots = reads.as_relation(snapshots)
    features = [f for f in DRIFT_FEATURES if f in snapshots.columns]
    by_cutoff = reads.drift_frames(snapshots, features)
    frame = model_monitoring(outcomes, by_cutoff, features, trained_as_of=trained_as_of)
    log.info(
        "monitoring: %d performance rows (%d matured), %d feature drift rows",
        int((frame["monitoring_kind"] == "performance").sum()),
        int(frame["is_matured"].fillna(False).astype(bool).sum()),
        int((frame["monitoring_kind"] == "feature_drift").sum()),
    )
    return frame
