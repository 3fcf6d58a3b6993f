"""Train, select, calibrate and register a churn model, out of time.

The recipe (README, "Churn model"):

1. Validation cutoff = the latest mature cutoff. Candidates used for selection
   train only on cutoffs whose label windows have closed by it (purged):
   training on the adjacent cutoffs leaks outcomes into validation.
2. Every candidate and every baseline is scored on the same validation rows.
3. Selection metric: validation log loss. It is a proper scoring rule, so it
   rewards both ranking and calibration, and the product consumes the
   probabilities themselves (expected churners, revenue at risk), not only
   their order. AUC is reported next to it.
4. Calibration is chosen out of time too: none, sigmoid or isotonic, by
   cross-fitted log loss of the chosen model's validation predictions.
5. The chosen recipe is refitted on every mature cutoff; the calibrator is the
   one fitted on validation.
6. Champion/challenger: the refitted challenger replaces the stored champion
   only if its recipe beat the champion on this run's validation rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from retention import __version__
from retention.churn import metrics
from retention.churn.btyd import BtydModel, rfm_from_snapshots
from retention.churn.candidates import CANDIDATES, build_candidate, positive_proba
from retention.churn.frames import BTYD_FEATURES, LABEL_COLUMN, feature_columns, prepare_snapshots

log = logging.getLogger(__name__)


class InsufficientLabelsError(RuntimeError):
    """Too few labelled rows, churners or non-churners to train honestly."""


@dataclass
class TrainingConfig:
    horizon_days: int = 90
    seed: int = 42
    candidates: tuple[str, ...] = CANDIDATES
    use_btyd: bool = True
    stack_btyd: bool = False
    calibration: str = "auto"  # auto | none | sigmoid | isotonic
    min_labelled_rows: int = 200
    min_class_rows: int = 20
    on_insufficient_labels: str = "error"  # error | skip
    # Above this many labelled rows, train on a deterministic sample of customers
    # (all their cutoffs kept), so 1M customers x 12 cutoffs stays within memory.
    max_training_rows: int = 1_000_000
    # What ships. "refit": the chosen recipe refitted on every mature cutoff, with
    # the calibrator learned on validation; "refit_uncalibrated": the same refit
    # without it; "validated": exactly the purged-trained pipeline + calibrator
    # that validation measured. "auto" (default): the refit when no calibration
    # was chosen, else the validated pair - a calibrator is fitted to one model
    # instance and is not validated on a refit (on CDNOW a sigmoid learned on one
    # Keras fit made its refit worse).
    final_model: str = "auto"


@dataclass
class Calibrator:
    """A monotone map from raw to calibrated probability."""

    method: str = "none"
    model: object = None

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "sigmoid":
            self.model = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw)[:, None], y)
        elif self.method == "isotonic":
            self.model = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip")
            self.model.fit(raw, y)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            return self.model.predict_proba(_logit(raw)[:, None])[:, 1]
        if self.method == "isotonic":
            return self.model.predict(raw)
        return raw


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class ChurnModel:
    """What gets saved and later scores: recipe + fitted pipeline + calibrator."""

    name: str
    numeric: list[str]
    categorical: list[str]
    pipeline: object
    calibrator: Calibrator
    uses_btyd: bool
    horizon_days: int

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        return positive_proba(self.pipeline, frame[self.features])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.clip(self.calibrator.transform(self.predict_raw(frame)), 1e-6, 1 - 1e-6)


@dataclass
class TrainingResult:
    model_version: str
    challenger: ChurnModel
    validated: ChurnModel  # the pair validation measured: purged-trained pipeline + calibrator
    run: dict
    evaluation: pd.DataFrame
    curves: pd.DataFrame
    validation_predictions: pd.DataFrame
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


def check_labels(rows: pd.DataFrame, what: str, config: TrainingConfig) -> str | None:
    """None when there are enough labels; otherwise the problem, in numbers."""
    y = rows[LABEL_COLUMN].astype(float)
    churners, stayers = int(y.sum()), int(len(y) - y.sum())
    if len(y) < config.min_labelled_rows or min(churners, stayers) < config.min_class_rows:
        return (
            f"{what}: {len(y)} labelled rows ({churners} churners, {stayers} non-churners); "
            f"need at least {config.min_labelled_rows} rows and {config.min_class_rows} of each "
            "class. Add history (more data or a later as_of_date), shorten churn_horizon_days or "
            "snapshot_every_days, or set churn_on_insufficient_labels: skip to build without a model."
        )
    return None


def sample_customers(rows: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """A deterministic sample of whole customers (every cutoff of a sampled customer
    is kept) with about max_rows rows; the same customers whatever the row order."""
    if len(rows) <= max_rows:
        return rows
    fraction = max_rows / len(rows)
    buckets = pd.util.hash_pandas_object(rows["customer_id"].astype(str), index=False) % 10_000
    sampled = rows[buckets.to_numpy() < int(fraction * 10_000)]
    log.info("training on %d of %d labelled rows (customer sample)", len(sampled), len(rows))
    return sampled


def add_btyd_features(frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """BG/NBD P(no purchase in H) and expected purchases per row, fitted per cutoff
    on that cutoff's buyers (all of whose history lies before the cutoff)."""
    frame = frame.copy()
    for column in BTYD_FEATURES:
        frame[column] = np.nan
    for cutoff, rows in frame.groupby("cutoff_date", sort=True):
        buyers = rows[rows["order_days_count"] >= 1]
        if len(buyers) < 50:
            continue
        rfm = rfm_from_snapshots(buyers)
        scores = BtydModel("bg_nbd").fit(rfm).score(rfm, horizon_days)
        frame.loc[buyers.index, "btyd_p_no_purchase"] = scores.p_no_purchase
        frame.loc[buyers.index, "btyd_expected_purchases"] = scores.expected_purchases
        log.info("BG/NBD features at cutoff %s: %d buyers", cutoff.date(), len(buyers))
    return frame


def choose_calibration(raw: np.ndarray, y: np.ndarray, method: str, seed: int):
    """Cross-fitted (5-fold, across customers) log loss of each calibration on the
    validation predictions. Returns (chosen method, {method: log loss}, the chosen
    method's out-of-fold predictions): those, not an in-sample fit, are what the
    calibrated model's validation metrics and the champion comparison use."""
    methods = ["none", "sigmoid", "isotonic"] if method == "auto" else [method]
    losses, out_of_fold = {}, {}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for name in methods:
        out = np.empty_like(raw)
        for fit_idx, test_idx in folds.split(raw, y):
            out[test_idx] = Calibrator(name).fit(raw[fit_idx], y[fit_idx]).transform(raw[test_idx])
        losses[name] = metrics.probability_metrics(y, out)["log_loss"]
        out_of_fold[name] = out
    chosen = min(losses, key=losses.get)
    return chosen, losses, out_of_fold[chosen]


def _evaluation_rows(model_version, name, kind, y, score, is_probability, threshold=None):
    summary = (
        metrics.probability_metrics(y, score)
        if is_probability
        else metrics.ranking_metrics(y, score)
    )
    row = {"model_version": model_version, "model_name": name, "model_kind": kind, **summary}
    if is_probability:
        row.update(metrics.threshold_metrics(y, score, threshold if threshold is not None else 0.5))
    curves = []
    for _, r in metrics.lift_by_decile(y, score).iterrows():
        curves.append(
            {
                "model_version": model_version,
                "model_name": name,
                "curve": "lift_by_decile",
                "bucket": int(r["decile"]),
                "customers": int(r["customers"]),
                "observed_rate": float(r["churn_rate"]),
                "mean_predicted": float(r["mean_score"]),
                "lift": float(r["lift"]),
                "cumulative_capture": float(r["cumulative_capture"]),
            }
        )
    if is_probability:
        for _, r in metrics.calibration_bins(y, score).iterrows():
            curves.append(
                {
                    "model_version": model_version,
                    "model_name": name,
                    "curve": "calibration",
                    "bucket": int(r["bin"]),
                    "customers": int(r["customers"]),
                    "observed_rate": float(r["observed_rate"]),
                    "mean_predicted": float(r["mean_predicted"]),
                    "lift": np.nan,
                    "cumulative_capture": np.nan,
                }
            )
    return row, curves


# ---------------------------------------------------------------- main entry


def train_churn_model(
    snapshots: pd.DataFrame,
    config: TrainingConfig | None = None,
    champion: ChurnModel | None = None,
    champion_version: str | None = None,
) -> TrainingResult | None:
    """Run the whole recipe. Returns None only when labels are insufficient and the
    config says to skip (with a warning); raises InsufficientLabelsError otherwise."""
    config = config or TrainingConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    frame = prepare_snapshots(snapshots)
    mature = sample_customers(
        frame[frame["is_label_mature"].astype(bool)], config.max_training_rows
    )
    if mature.empty:
        problem = (
            "no mature cutoff: every label window ends after as_of_date. Use a later "
            "as_of_date, more history, or a shorter churn horizon."
        )
    else:
        validation_cutoff = mature["cutoff_date"].max()
        tuning = mature[mature["label_window_end_date"] <= validation_cutoff]
        validation = mature[mature["cutoff_date"] == validation_cutoff]
        problem = check_labels(tuning, "purged training cutoffs", config) or check_labels(
            validation, f"validation cutoff {validation_cutoff.date()}", config
        )
    if problem:
        if config.on_insufficient_labels == "skip":
            log.warning("Churn model skipped: %s", problem)
            return None
        raise InsufficientLabelsError(f"Cannot train a churn model: {problem}")

    fingerprint = data_fingerprint(snapshots)
    config_json = json.dumps(asdict(config), sort_keys=True, default=str)
    model_version = (
        "churn-"
        + hashlib.sha256((fingerprint + config_json + __version__).encode()).hexdigest()[:12]
    )

    is_purchase_data = (
        "order_days_count" in frame.columns
        and (frame.loc[frame["is_label_mature"].astype(bool), "order_days_count"] >= 1).all()
    )
    use_btyd = config.use_btyd and is_purchase_data
    if use_btyd and config.stack_btyd:
        t = time.perf_counter()
        frame = add_btyd_features(frame, config.horizon_days)
        timings["btyd_features_seconds"] = time.perf_counter() - t
        mature = frame.loc[mature.index]
        tuning = mature[mature["label_window_end_date"] <= validation_cutoff]
        validation = mature[mature["cutoff_date"] == validation_cutoff]

    y_tune = tuning[LABEL_COLUMN].astype(float).to_numpy()
    y_val = validation[LABEL_COLUMN].astype(float).to_numpy()
    scored: list[tuple[str, str, np.ndarray, bool]] = []  # (name, kind, score, is_probability)
    predictions: dict[str, np.ndarray] = {}

    def record(name, kind, score, is_probability=True):
        scored.append((name, kind, score, is_probability))
        predictions[name] = score

    def validation_log_loss(name):
        return metrics.probability_metrics(y_val, predictions[name])["log_loss"]

    # ---------- baselines
    if "days_since_last_order" in validation.columns:
        record(
            "recency_rule",
            "baseline",
            validation["days_since_last_order"].fillna(1e6).to_numpy(),
            False,
        )
    record("constant_rate", "baseline", np.full(len(y_val), y_tune.mean()))
    if use_btyd:
        rfm_val = rfm_from_snapshots(validation)
        for kind in ("bg_nbd", "pareto_nbd"):
            t = time.perf_counter()
            scores = BtydModel(kind).fit(rfm_val).score(rfm_val, config.horizon_days)
            timings[f"{kind}_seconds"] = time.perf_counter() - t
            log.info("baseline %s fitted in %.1fs", kind, timings[f"{kind}_seconds"])
            record(f"{kind}_p_no_purchase", "baseline", scores.p_no_purchase)
            if kind == "bg_nbd":
                # Reported to show why it is never used: wrong sign for one-time buyers.
                record("bg_nbd_one_minus_p_alive", "anti_baseline", 1 - scores.p_alive)

    # ---------- candidates (purged training, validated out of time)
    numeric, categorical = feature_columns(frame, tuning)
    plain_numeric = [c for c in numeric if c not in BTYD_FEATURES]
    recipes = {name: plain_numeric for name in config.candidates}
    if use_btyd and config.stack_btyd:
        recipes["stacked_hgb_btyd"] = plain_numeric + [c for c in BTYD_FEATURES if c in numeric]
    fitted = {}
    for name, columns in recipes.items():
        t = time.perf_counter()
        base = "hist_gradient_boosting" if name == "stacked_hgb_btyd" else name
        pipeline = build_candidate(base, columns, categorical, config.seed)
        pipeline.fit(tuning[columns + categorical], y_tune)
        timings[f"{name}_fit_seconds"] = time.perf_counter() - t
        raw = positive_proba(pipeline, validation[columns + categorical])
        fitted[name] = (columns, pipeline)
        record(name, "candidate", raw)
        log.info(
            "candidate %s: validation log loss %.4f (fit in %.1fs)",
            name,
            validation_log_loss(name),
            timings[f"{name}_fit_seconds"],
        )

    chosen = min(recipes, key=validation_log_loss)
    columns, tuned_pipeline = fitted[chosen]
    raw_val = predictions[chosen]
    calibration, calibration_losses, calibrated_val = choose_calibration(
        raw_val, y_val, config.calibration, config.seed
    )
    calibrator = Calibrator(calibration).fit(raw_val, y_val)
    if calibration != "none":
        record(f"{chosen}_calibrated", "candidate", calibrated_val)
    threshold = metrics.best_f1_threshold(y_val, calibrated_val)

    # ---------- champion / challenger on the same validation rows
    challenger_loss = metrics.probability_metrics(y_val, calibrated_val)["log_loss"]
    promoted, reason = True, "no previous champion"
    if champion is not None and champion_version == model_version:
        # the same data and config as the champion: comparing it with itself says nothing
        reason = "same data and config as the champion (rerun)"
    elif champion is not None:
        if set(champion.features) - set(validation.columns):
            reason = "champion's features are no longer produced; challenger promoted"
        else:
            record(f"champion_{champion_version}", "champion", champion.predict(validation))
            champion_loss = validation_log_loss(f"champion_{champion_version}")
            promoted = challenger_loss < champion_loss
            reason = (
                f"challenger log loss {challenger_loss:.4f} vs champion {champion_loss:.4f} "
                "on the same validation rows"
            )

    # ---------- the shipped model: refit on every mature cutoff, or the validated pair
    final_model = config.final_model
    if final_model == "auto":
        final_model = "refit" if calibration == "none" else "validated"
    if final_model not in ("refit", "refit_uncalibrated", "validated"):
        raise ValueError(
            "final_model must be auto, refit, refit_uncalibrated or validated, "
            f"got {config.final_model!r}"
        )
    recipe = {
        "name": chosen,
        "numeric": list(columns),
        "categorical": list(categorical),
        "uses_btyd": chosen == "stacked_hgb_btyd",
        "horizon_days": config.horizon_days,
    }
    validated = ChurnModel(pipeline=tuned_pipeline, calibrator=calibrator, **recipe)
    if final_model == "validated":
        challenger = validated
    else:
        t = time.perf_counter()
        base = "hist_gradient_boosting" if chosen == "stacked_hgb_btyd" else chosen
        final_pipeline = build_candidate(base, columns, categorical, config.seed)
        final_pipeline.fit(
            mature[columns + categorical], mature[LABEL_COLUMN].astype(float).to_numpy()
        )
        timings["final_fit_seconds"] = time.perf_counter() - t
        log.info(
            "final %s refitted on %d rows in %.1fs",
            chosen,
            len(mature),
            timings["final_fit_seconds"],
        )
        final_calibrator = calibrator if final_model == "refit" else Calibrator("none")
        challenger = ChurnModel(pipeline=final_pipeline, calibrator=final_calibrator, **recipe)

    evaluations, curves = [], []
    for name, kind, score, is_probability in scored:
        row, rows = _evaluation_rows(
            model_version, name, kind, y_val, score, is_probability, threshold
        )
        evaluations.append(row)
        curves.extend(rows)
    evaluation = pd.DataFrame(evaluations)
    evaluation["validation_cutoff"] = validation_cutoff
    chosen_name = f"{chosen}_calibrated" if calibration != "none" else chosen
    evaluation["is_chosen"] = evaluation["model_name"].eq(chosen_name)
    timings["total_seconds"] = time.perf_counter() - started
    chosen_metrics = evaluation[evaluation["is_chosen"]].iloc[0]
    run = {
        "model_version": model_version,
        "package_version": __version__,
        "trained_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "as_of_date": frame["as_of_date"].max(),
        "validation_cutoff": validation_cutoff,
        "training_cutoffs": int(mature["cutoff_date"].nunique()),
        "purged_training_cutoffs": int(tuning["cutoff_date"].nunique()),
        "training_rows": int(len(mature)),
        "validation_rows": int(len(validation)),
        "chosen_model": chosen,
        "calibration": calibration,
        "final_model": final_model,
        "decision_threshold": threshold,
        "selection_metric": "log_loss",
        "promoted": promoted,
        "decision_reason": reason,
        "data_fingerprint": fingerprint,
        "features": json.dumps(challenger.features),
        "parameters": json.dumps(
            {
                "config": asdict(config),
                "model": {
                    k: repr(v)
                    for k, v in challenger.pipeline.named_steps["model"].get_params().items()
                },
                "calibration_log_loss": calibration_losses,
            },
            default=str,
        ),
        "metrics": json.dumps(
            {
                k: chosen_metrics[k]
                for k in (
                    "auc",
                    "pr_auc",
                    "log_loss",
                    "brier",
                    "ece",
                    "lift_top_decile",
                    "aggregate_error",
                )
            }
        ),
    }
    val_predictions = validation[["customer_id", "cutoff_date", LABEL_COLUMN]].copy()
    for name, score in predictions.items():
        val_predictions[name] = score
    return TrainingResult(
        model_version=model_version,
        challenger=challenger,
        validated=validated,
        run=run,
        evaluation=evaluation,
        curves=pd.DataFrame(curves),
        validation_predictions=val_predictions,
        timings=timings,
    )
