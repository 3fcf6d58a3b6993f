"""Training, selection, calibration and champion/challenger (retention.churn.training).

Most tests share one fast run (logistic regression + gradient boosting, no
BTYD); one slow-marked run uses the full default recipe (BTYD baselines and
the Keras network) on a small frame.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from churn_fixtures import (
    FAST_CANDIDATES,
    make_snapshots,
    shuffle_labels,
    single_threaded,
)
from retention.churn.btyd import DAYS_PER_WEEK, rfm_from_snapshots
from retention.churn.candidates import KerasMLPClassifier
from retention.churn.training import (
    Calibrator,
    InsufficientLabelsError,
    TrainingConfig,
    choose_calibration,
    data_fingerprint,
    train_churn_model,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def fast_config(**overrides) -> TrainingConfig:
    return TrainingConfig(**{"candidates": FAST_CANDIDATES, "use_btyd": False, **overrides})


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with single_threaded():
        yield


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=1200, n_mature=8, seed=0)


@pytest.fixture(scope="module")
def result(snapshots):
    return train_churn_model(snapshots, fast_config())


@pytest.fixture(scope="module")
def rerun(snapshots):
    return train_churn_model(snapshots, fast_config())


def mature_rows(snapshots: pd.DataFrame) -> pd.DataFrame:
    return snapshots[snapshots["is_label_mature"]]


def candidate_rows(evaluation: pd.DataFrame) -> pd.DataFrame:
    plain = ~evaluation["model_name"].str.endswith("_calibrated")
    return evaluation[evaluation["model_kind"].eq("candidate") & plain]


def row(evaluation: pd.DataFrame, name: str) -> pd.Series:
    return evaluation.set_index("model_name").loc[name]


# ---------------------------------------------------------------- out-of-time design


def test_purged_training_cutoffs_end_before_validation(result, snapshots):
    mature = mature_rows(snapshots)
    validation_cutoff = mature["cutoff_date"].max()
    purged = mature[mature["label_window_end_date"] <= validation_cutoff]
    run = result.run
    assert run["validation_cutoff"] == validation_cutoff
    assert run["training_cutoffs"] == mature["cutoff_date"].nunique() == 8
    # Windows of 90 days, cutoffs 28 days apart: the 3 cutoffs after the last
    # purged one overlap the validation window and must not be tuned on.
    assert run["purged_training_cutoffs"] == purged["cutoff_date"].nunique() == 4
    assert run["purged_training_cutoffs"] < run["training_cutoffs"]
    assert (purged["label_window_end_date"] <= validation_cutoff).all()
    assert run["validation_rows"] == (snapshots["cutoff_date"] == validation_cutoff).sum()
    assert run["training_rows"] == len(mature)


def test_candidates_never_see_labels_after_the_purge(result, snapshots):
    """Rewriting every label whose window ends after the validation cutoff (the
    validation rows included) must leave the candidates' validation predictions
    bit-identical: they were fitted on purged cutoffs only."""
    validation_cutoff = result.run["validation_cutoff"]
    tampered = snapshots.copy()
    late = tampered["is_label_mature"] & (tampered["label_window_end_date"] > validation_cutoff)
    rng = np.random.default_rng(5)
    tampered.loc[late, "is_churned"] = rng.uniform(size=late.sum()) < 0.5
    assert (tampered["is_churned"] != snapshots["is_churned"]).sum() > 1000

    again = train_churn_model(tampered, fast_config())
    for name in FAST_CANDIDATES:
        assert np.array_equal(
            result.validation_predictions[name], again.validation_predictions[name]
        ), name
    # Different data, different version. A refit on every mature cutoff sees the
    # late labels; the validated (purged) pair, shipped when calibrated, does not.
    assert again.model_version != result.model_version
    same = np.array_equal(
        result.challenger.predict_raw(snapshots), again.challenger.predict_raw(snapshots)
    )
    assert same == (result.run["final_model"] == "validated")


def test_selection_is_lowest_validation_log_loss(result):
    candidates = candidate_rows(result.evaluation)
    assert set(candidates["model_name"]) == set(FAST_CANDIDATES)
    best = candidates.loc[candidates["log_loss"].idxmin(), "model_name"]
    assert result.run["chosen_model"] == best == result.challenger.name
    chosen = result.evaluation[result.evaluation["is_chosen"]]
    assert len(chosen) == 1
    suffix = "" if result.run["calibration"] == "none" else "_calibrated"
    assert chosen["model_name"].iloc[0] == best + suffix
    assert result.run["selection_metric"] == "log_loss"
    assert json.loads(result.run["metrics"])["log_loss"] == pytest.approx(
        chosen["log_loss"].iloc[0]
    )


def test_every_model_is_scored_on_the_same_validation_rows(result):
    evaluation, curves = result.evaluation, result.curves
    n = result.run["validation_rows"]
    assert {"recency_rule", "constant_rate", *FAST_CANDIDATES} <= set(evaluation["model_name"])
    assert (evaluation["n"] == n).all()
    assert evaluation["base_rate"].nunique() == 1
    assert (evaluation["validation_cutoff"] == result.run["validation_cutoff"]).all()
    deciles = curves[curves["curve"] == "lift_by_decile"]
    assert (deciles.groupby("model_name")["customers"].sum() == n).all()
    assert set(deciles["model_name"]) == set(evaluation["model_name"])
    predictions = result.validation_predictions
    assert len(predictions) == n
    assert (predictions["cutoff_date"] == result.run["validation_cutoff"]).all()
    assert predictions["customer_id"].is_unique


def test_model_beats_the_constant_baseline(result):
    evaluation = result.evaluation
    chosen = evaluation[evaluation["is_chosen"]].iloc[0]
    constant = row(evaluation, "constant_rate")
    assert chosen["auc"] > 0.75
    assert chosen["auc"] > constant["auc"] + 0.2
    assert chosen["log_loss"] < constant["log_loss"] - 0.1
    assert chosen["brier"] < constant["brier"]
    # The constant is the purged training churn rate: AUC exactly 0.5.
    assert constant["auc"] == pytest.approx(0.5)
    # Recency alone ranks churners on this data too (a sanity check of the generator).
    assert row(evaluation, "recency_rule")["auc"] > 0.7


def test_shuffled_labels_give_chance_level_auc(snapshots):
    """Leakage sanity check: with no signal, no model may look better than chance."""
    shuffled = train_churn_model(shuffle_labels(snapshots, seed=3), fast_config())
    evaluation = shuffled.evaluation
    for name in [*FAST_CANDIDATES, "recency_rule"]:
        assert row(evaluation, name)["auc"] < 0.6, name
    chosen = evaluation[evaluation["is_chosen"]].iloc[0]
    assert chosen["auc"] < 0.6


# ---------------------------------------------------------------- label sufficiency


def test_insufficient_labels_error_names_the_numbers():
    small = make_snapshots(n_customers=40, n_mature=8, seed=1)
    mature = mature_rows(small)
    validation_cutoff = mature["cutoff_date"].max()
    tuning = mature[mature["label_window_end_date"] <= validation_cutoff]
    churners = int(tuning["is_churned"].sum())
    expected = (
        f"purged training cutoffs: {len(tuning)} labelled rows ({churners} churners, "
        f"{len(tuning) - churners} non-churners); need at least 200 rows and 20 of each class"
    )
    with pytest.raises(InsufficientLabelsError) as error:
        train_churn_model(small, fast_config())
    assert expected in str(error.value)


def test_insufficient_validation_labels_error_names_the_cutoff(snapshots):
    mature = mature_rows(snapshots)
    validation_cutoff = mature["cutoff_date"].max()
    at_validation = snapshots.index[snapshots["cutoff_date"] == validation_cutoff]
    thinned = snapshots.drop(at_validation[150:])
    churners = int(thinned.loc[at_validation[:150], "is_churned"].sum())
    with pytest.raises(InsufficientLabelsError) as error:
        train_churn_model(thinned, fast_config())
    assert (
        f"validation cutoff {validation_cutoff.date()}: 150 labelled rows "
        f"({churners} churners, {150 - churners} non-churners)"
    ) in str(error.value)


def test_insufficient_labels_skip_returns_none_with_a_warning(caplog):
    small = make_snapshots(n_customers=40, n_mature=8, seed=1)
    with caplog.at_level(logging.WARNING, logger="retention.churn.training"):
        assert train_churn_model(small, fast_config(on_insufficient_labels="skip")) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "skipped" in warnings[0].getMessage()
    assert "labelled rows" in warnings[0].getMessage()


def test_no_mature_cutoff_is_a_clear_error(snapshots):
    scoring_only = snapshots[snapshots["is_scoring_cutoff"]]
    with pytest.raises(InsufficientLabelsError, match="no mature cutoff"):
        train_churn_model(scoring_only, fast_config())
    assert train_churn_model(scoring_only, fast_config(on_insufficient_labels="skip")) is None


# ---------------------------------------------------------------- reproducibility and versions


def test_same_input_and_seed_reproduce_metrics_and_predictions(result, rerun, snapshots):
    assert rerun.model_version == result.model_version
    pd.testing.assert_frame_equal(rerun.evaluation, result.evaluation)
    pd.testing.assert_frame_equal(rerun.curves, result.curves)
    pd.testing.assert_frame_equal(rerun.validation_predictions, result.validation_predictions)
    assert np.array_equal(rerun.challenger.predict(snapshots), result.challenger.predict(snapshots))
    for key in ("chosen_model", "calibration", "decision_threshold", "metrics", "parameters"):
        assert rerun.run[key] == result.run[key], key


def test_model_version_depends_on_data_and_config_not_row_order(result, snapshots):
    assert result.model_version.startswith("churn-")
    assert result.run["data_fingerprint"] == data_fingerprint(snapshots)
    # The warehouse gives no row order guarantee (the snapshot mart is built
    # from GROUP BYs); the same rows in another order are the same data.
    reordered = snapshots.sample(frac=1.0, random_state=3)
    assert data_fingerprint(reordered) == data_fingerprint(snapshots)
    assert data_fingerprint(snapshots[sorted(snapshots.columns)]) == data_fingerprint(snapshots)
    changed = snapshots.copy()
    changed.loc[changed.index[-1], "revenue_total"] += 1.0
    assert data_fingerprint(changed) != data_fingerprint(snapshots)
    assert data_fingerprint(snapshots.iloc[1:]) != data_fingerprint(snapshots)


# ---------------------------------------------------------------- champion / challenger


class ConstantChampion:
    """A ChurnModel-like champion that predicts one probability for everyone."""

    features = ["days_since_last_order"]

    def __init__(self, probability: float):
        self.probability = probability

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.probability)


class OracleChampion:
    """A champion that knows the outcome (better than any honest challenger)."""

    features = ["days_since_last_order"]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.where(frame["is_churned"].astype(float) == 1, 0.97, 0.03)


def test_better_champion_is_kept(snapshots):
    config = fast_config(candidates=("logistic_regression",))
    result = train_churn_model(snapshots, config, OracleChampion(), "churn-oracle")
    assert result.run["promoted"] is False
    reason = result.run["decision_reason"]
    champion = row(result.evaluation, "champion_churn-oracle")
    assert champion["model_kind"] == "champion"
    assert champion["n"] == result.run["validation_rows"]
    assert f"champion {champion['log_loss']:.4f}" in reason
    assert "same validation rows" in reason
    challenger_loss = float(reason.split("challenger log loss ")[1].split()[0])
    assert challenger_loss > champion["log_loss"]


def test_worse_champion_is_replaced(snapshots):
    config = fast_config(candidates=("logistic_regression",))
    result = train_churn_model(snapshots, config, ConstantChampion(0.5), "churn-coin")
    assert result.run["promoted"] is True
    champion = row(result.evaluation, "champion_churn-coin")
    assert champion["log_loss"] == pytest.approx(np.log(2), abs=1e-9)
    chosen = result.evaluation[result.evaluation["is_chosen"]].iloc[0]
    assert chosen["log_loss"] < champion["log_loss"]
    assert "vs champion 0.6931" in result.run["decision_reason"]


def test_champion_with_missing_features_is_replaced(snapshots):
    champion = ConstantChampion(0.01)
    champion.features = ["a_feature_no_longer_built"]
    config = fast_config(candidates=("logistic_regression",))
    result = train_churn_model(snapshots, config, champion, "churn-old")
    assert result.run["promoted"] is True
    assert "no longer produced" in result.run["decision_reason"]


# ---------------------------------------------------------------- calibration


def test_chosen_calibration_is_never_worse_than_none(result):
    losses = json.loads(result.run["parameters"])["calibration_log_loss"]
    assert set(losses) == {"none", "sigmoid", "isotonic"}
    chosen = result.run["calibration"]
    assert losses[chosen] <= losses["none"]
    assert losses[chosen] == min(losses.values())
    assert result.challenger.calibrator.method == chosen


def test_choose_calibration_fixes_a_miscalibrated_score():
    rng = np.random.default_rng(2)
    truth = rng.beta(2, 2, size=3000)
    y = (rng.uniform(size=truth.size) < truth).astype(float)
    overconfident = truth**3  # same ranking, far too low
    chosen, losses, out_of_fold = choose_calibration(overconfident, y, "auto", seed=0)
    assert out_of_fold.shape == y.shape
    assert chosen != "none"
    assert losses[chosen] < losses["none"] - 0.05
    fixed = Calibrator(chosen).fit(overconfident, y).transform(overconfident)
    assert abs(fixed.mean() - y.mean()) < 0.01
    # Monotone: calibration never changes the ranking.
    order = np.argsort(overconfident)
    assert (np.diff(fixed[order]) >= -1e-12).all()
    assert skm.roc_auc_score(y, fixed) == pytest.approx(skm.roc_auc_score(y, truth), abs=0.01)
    # A calibrated score is left alone, and a forced method is the only one tried.
    assert choose_calibration(truth, y, "auto", seed=0)[0] in {"none", "sigmoid"}
    assert list(choose_calibration(truth, y, "isotonic", seed=0)[1]) == ["isotonic"]


# ---------------------------------------------------------------- full recipe: BTYD + Keras


@pytest.fixture(scope="module")
def small_snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=600, n_mature=6, seed=3)


@pytest.fixture(scope="module")
def full_result(small_snapshots):
    return train_churn_model(small_snapshots, TrainingConfig())


@pytest.mark.slow
def test_full_default_recipe(full_result):
    evaluation = full_result.evaluation
    names = set(evaluation["model_name"])
    assert {
        "recency_rule",
        "constant_rate",
        "bg_nbd_p_no_purchase",
        "pareto_nbd_p_no_purchase",
        "bg_nbd_one_minus_p_alive",
        "logistic_regression",
        "hist_gradient_boosting",
        "keras_mlp",
    } <= names
    assert (evaluation["n"] == full_result.run["validation_rows"]).all()
    best = candidate_rows(evaluation).sort_values("log_loss")["model_name"].iloc[0]
    assert full_result.run["chosen_model"] == best
    chosen = evaluation[evaluation["is_chosen"]].iloc[0]
    assert chosen["auc"] > row(evaluation, "constant_rate")["auc"] + 0.2
    keras = row(evaluation, "keras_mlp")
    assert keras["auc"] > 0.7  # the network learns too, not only the winner
    assert row(evaluation, "bg_nbd_one_minus_p_alive")["model_kind"] == "anti_baseline"


@pytest.mark.slow
def test_btyd_p_no_purchase_ranks_churners(full_result, small_snapshots):
    """P(no purchase in the horizon) from BG/NBD and Pareto/NBD ranks churners better
    than chance; 1 - P(alive) does not, for one-time buyers (P(alive) = 1 for all)."""
    predictions = full_result.validation_predictions.merge(
        small_snapshots[["customer_id", "cutoff_date", "order_days_count"]],
        on=["customer_id", "cutoff_date"],
    )
    y = predictions["is_churned"].astype(float)
    for name in ("bg_nbd_p_no_purchase", "pareto_nbd_p_no_purchase"):
        p0 = predictions[name]
        assert ((p0 >= 0) & (p0 <= 1)).all()
        assert skm.roc_auc_score(y, p0) > 0.8, name
    anti = row(full_result.evaluation, "bg_nbd_one_minus_p_alive")["auc"]
    assert row(full_result.evaluation, "bg_nbd_p_no_purchase")["auc"] > anti + 0.1
    one_time = predictions["order_days_count"] == 1
    assert y[one_time].nunique() == 2 and one_time.sum() >= 50
    auc_p0 = skm.roc_auc_score(y[one_time], predictions.loc[one_time, "bg_nbd_p_no_purchase"])
    auc_alive = skm.roc_auc_score(
        y[one_time], predictions.loc[one_time, "bg_nbd_one_minus_p_alive"]
    )
    assert auc_alive < auc_p0
    assert auc_alive == pytest.approx(0.5, abs=0.02)


def test_rfm_from_snapshots_is_in_weeks():
    snapshots = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_days_count": [1.0, 3.0, 5.0],
            "days_since_first_order": [14.0, 70.0, 350.0],
            "days_since_last_order": [14.0, 7.0, 35.0],
            "revenue_total": [10.0, 90.0, 0.0],
        }
    )
    rfm = rfm_from_snapshots(snapshots)
    assert DAYS_PER_WEEK == 7.0
    np.testing.assert_allclose(rfm["frequency"], [0, 2, 4])
    np.testing.assert_allclose(rfm["T"], [2, 10, 50])
    np.testing.assert_allclose(rfm["recency"], rfm["T"] - snapshots["days_since_last_order"] / 7)
    np.testing.assert_allclose(rfm["recency"], [0, 9, 45])
    np.testing.assert_allclose(rfm["monetary_value"], [10, 30, 0])
    assert (rfm["recency"] <= rfm["T"]).all()
    with pytest.raises(ValueError, match="at least one purchase"):
        rfm_from_snapshots(snapshots.assign(order_days_count=[0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="days_since_last_order"):
        rfm_from_snapshots(snapshots.drop(columns="days_since_last_order"))


@pytest.mark.slow
def test_keras_candidate_is_reproducible(small_snapshots):
    mature = mature_rows(small_snapshots)
    X = mature[["days_since_last_order", "orders_count", "orders_90d"]].to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = mature["is_churned"].astype(float).to_numpy()
    first = KerasMLPClassifier(epochs=4, random_state=7).fit(X, y).predict_proba(X)
    second = KerasMLPClassifier(epochs=4, random_state=7).fit(X, y).predict_proba(X)
    other_seed = KerasMLPClassifier(epochs=4, random_state=8).fit(X, y).predict_proba(X)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other_seed)
