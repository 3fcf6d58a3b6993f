"""Training: the cutoff plan, recipes validated as they ship, selection, promotion
(retention.churn.plan, recipes, selection, training).

Most tests share one fast run (logistic regression + gradient boosting, no BTYD) on a
synthetic shop with 12 mature cutoffs (deep mode: every calibration validated out of
time); slow-marked ones use the BTYD models (a PyMC compile each) or the Keras network.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from churn_fixtures import (
    FAST_CANDIDATES,
    make_snapshots,
    shuffle_labels,
)
from retention.churn import metrics
from retention.churn.btyd import rfm_from_snapshots
from retention.churn.candidates import KerasMLPClassifier
from retention.churn.fits import OutOfTimeFits
from retention.churn.model import Calibrator
from retention.churn.plan import InsufficientLabelsError
from retention.churn.recipes import apply_recipe
from retention.churn.training import (
    TrainingConfig,
    build_model,
    candidate_recipes,
    data_fingerprint,
    split_snapshots,
    train_churn_model,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HORIZON, EVERY = 90, 28


def fast_config(**overrides) -> TrainingConfig:
    return TrainingConfig(**{"candidates": FAST_CANDIDATES, "use_btyd": False, **overrides})


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=1200, n_mature=12, seed=0)


@pytest.fixture(scope="module")
def result(snapshots):
    return train_churn_model(snapshots, fast_config())


def mature_cutoffs(snapshots: pd.DataFrame) -> list[pd.Timestamp]:
    """c_0, c_1, ...: the mature cutoffs, latest first."""
    mature = snapshots[snapshots["is_label_mature"]]
    return sorted(pd.to_datetime(mature["cutoff_date"]).unique(), reverse=True)


def row(evaluation: pd.DataFrame, name: str) -> pd.Series:
    return evaluation.set_index("model_name").loc[name]


def chosen_row(result) -> pd.Series:
    return result.evaluation[result.evaluation["is_chosen"]].iloc[0]


# ---------------------------------------------------------------- the cutoff plan


def test_origins_are_the_latest_mature_cutoffs_each_with_a_purged_history(snapshots, result):
    c = mature_cutoffs(snapshots)
    split = split_snapshots(snapshots, fast_config())
    plan = split.plan
    # 90-day windows, cutoffs 28 days apart: the latest cutoff labelled by c_k is c_(k+4).
    assert [o.date for o in plan.origins] == [c[0], c[1]]
    assert [o.calibration_cutoff for o in plan.origins] == [c[4], c[5]]
    assert plan.mode == "deep" and all(o.deep for o in plan.origins)
    assert plan.labelled_by(c[0]) == sorted(c[4:])
    assert plan.labelled_by(c[4]) == sorted(c[8:])
    assert plan.ship.date == pd.Timestamp(snapshots["as_of_date"].max())
    assert plan.ship.calibration_cutoff == c[0]
    assert json.loads(result.run["validation_origins"]) == [str(c[0].date()), str(c[1].date())]
    assert result.run["training_cutoffs"] == 12 and result.run["purged_training_cutoffs"] == 8


def test_the_horizon_is_the_snapshots_label_window_when_not_given():
    """No default horizon in the package: 30-day label windows plan with 30 days."""
    short_windows = make_snapshots(n_customers=400, n_mature=10, horizon=30, every=14, seed=2)
    assert fast_config().horizon_days is None
    assert split_snapshots(short_windows, fast_config()).plan.horizon_days == 30
    assert split_snapshots(short_windows, fast_config(horizon_days=45)).plan.horizon_days == 45


def test_short_history_validates_shallow_recipes_only():
    """8 mature cutoffs: no origin has a purged history for its calibration cutoff's model,
    so calibrations that need out-of-time predictions there cannot be validated."""
    short = make_snapshots(n_customers=1200, n_mature=8, seed=1)
    split = split_snapshots(short, fast_config())
    assert split.plan.mode == "shallow"
    fits = OutOfTimeFits(
        split.frame, split.plan, split.numeric, split.categorical, list(FAST_CANDIDATES), 42,
        10**6,
    )  # fmt: skip
    recipes = candidate_recipes(split, fits, fast_config())
    assert {r.calibration for r in recipes if r.learner in FAST_CANDIDATES} == {
        "none",
        "prior_shift",
    }
    assert {r.rule for r in recipes if r.learner in FAST_CANDIDATES} == {"refit"}
    result = train_churn_model(short, fast_config())
    assert result.run["selection_mode"] == "shallow"


# ---------------------------------------------------------------- out of time, as shipped


def test_origin_predictions_never_see_labels_after_the_origin(result, snapshots):
    """Rewriting every label whose window ends after an origin (that origin's own labels
    included) must leave every recipe's predictions at that origin unchanged: the models,
    calibrations and drift corrections used there were fitted on labels known by then."""
    c = mature_cutoffs(snapshots)
    tampered = snapshots.copy()
    late = tampered["is_label_mature"] & (tampered["label_window_end_date"] > c[1])
    rng = np.random.default_rng(5)
    tampered.loc[late, "is_churned"] = rng.uniform(size=late.sum()) < 0.5
    assert (tampered["is_churned"] != snapshots["is_churned"]).sum() > 1000
    again = train_churn_model(tampered, fast_config())
    before = result.origin_evaluation.set_index(["model_name", "origin_date"])
    after = again.origin_evaluation.set_index(["model_name", "origin_date"])
    names = before.loc[before["mean_prediction"].notna()].index.get_level_values(0).unique()
    assert len(names) >= 8
    for name in names:
        # The mean prediction does not depend on the (tampered) labels being scored.
        assert after.loc[(name, c[1]), "mean_prediction"] == pytest.approx(
            before.loc[(name, c[1]), "mean_prediction"], rel=0, abs=1e-12
        ), name
    # ...while at c_0, whose calibration cutoff's labels were rewritten, they move.
    moved = [
        name
        for name in names
        if abs(
            after.loc[(name, c[0]), "mean_prediction"] - before.loc[(name, c[0]), "mean_prediction"]
        )
        > 1e-6
    ]
    assert len(moved) >= 4


def test_shipped_model_predicts_what_its_recipe_validated(snapshots):
    """One code path: the fitted ChurnModel of every recipe, built for an origin, predicts
    exactly what the validation scored for that recipe there."""
    config = fast_config()
    split = split_snapshots(snapshots, config)
    fits = OutOfTimeFits(
        split.frame, split.plan, split.numeric, split.categorical, list(config.candidates),
        config.seed, config.max_training_rows,
    )  # fmt: skip
    origin = split.plan.origins[0]
    for recipe in candidate_recipes(split, fits, config):
        model = build_model(recipe, origin, split, fits)
        np.testing.assert_allclose(
            model.predict(fits.rows(origin.date)),
            apply_recipe(recipe, origin, fits),
            rtol=0,
            atol=1e-12,
            err_msg=recipe.name,
        )
        assert model.trained_through <= origin.date, recipe.name


def test_every_recipe_is_validated_on_the_same_rows(result, snapshots):
    per_origin = result.origin_evaluation
    counts = per_origin.groupby("origin_date")["n"].agg(["min", "max"])
    assert (counts["min"] == counts["max"]).all()
    for date, n in counts["min"].items():
        assert n == (pd.to_datetime(snapshots["cutoff_date"]) == date).sum()
    assert (result.evaluation["origins"] == 2).all()
    assert result.run["validation_rows"] == int(counts["min"].sum())


# ---------------------------------------------------------------- selection


def test_selection_is_the_lowest_mean_validation_log_loss(result):
    evaluation = result.evaluation
    shipable = evaluation[evaluation["model_kind"].isin(["candidate", "baseline"])]
    shipable = shipable[shipable["log_loss"].notna()]
    best = shipable.loc[shipable["log_loss"].idxmin(), "model_name"]
    assert result.run["chosen_model"] == best == result.challenger.name
    assert evaluation["is_chosen"].sum() == 1
    per_origin = result.origin_evaluation
    mean_loss = per_origin[per_origin["model_name"] == best]["log_loss"].mean()
    assert json.loads(result.run["metrics"])["log_loss"] == pytest.approx(mean_loss)


def test_shipped_recipe_is_never_worse_than_the_best_baseline(result):
    baselines = result.evaluation[
        (result.evaluation["model_kind"] == "baseline") & result.evaluation["log_loss"].notna()
    ]
    assert chosen_row(result)["log_loss"] <= baselines["log_loss"].min()
    assert result.run["best_baseline_log_loss"] == pytest.approx(baselines["log_loss"].min())


def test_refit_and_validated_are_both_measured_and_recorded(result):
    evaluation = result.evaluation
    rules = set(evaluation.loc[evaluation["learner"].isin(FAST_CANDIDATES), "final_rule"])
    assert rules == {"refit", "validated"}
    evidence = json.loads(result.run["parameters"])["final_rule_evidence"]
    chosen = chosen_row(result)
    same = evaluation[
        (evaluation["learner"] == chosen["learner"])
        & (evaluation["calibration"] == chosen["calibration"])
    ]
    assert evidence == pytest.approx(dict(zip(same["final_rule"], same["log_loss"], strict=True)))


def test_model_beats_the_constant_baseline(result):
    chosen, constant = chosen_row(result), row(result.evaluation, "constant_rate")
    assert chosen["auc"] > 0.75 and constant["auc"] == pytest.approx(0.5)
    assert chosen["log_loss"] < constant["log_loss"] - 0.1
    assert row(result.evaluation, "recency_rule")["auc"] > 0.7


@pytest.mark.slow
def test_shuffled_labels_ship_nothing_better_than_chance(snapshots):
    """Leakage check: with no signal, no recipe may look better than chance, and the
    chosen one is no better calibrated than the constant rate by more than noise."""
    shuffled = train_churn_model(shuffle_labels(snapshots, seed=3), fast_config())
    evaluation = shuffled.evaluation
    assert (evaluation["auc"].dropna() < 0.6).all()
    chosen, constant = chosen_row(shuffled), row(evaluation, "constant_rate")
    assert chosen["log_loss"] > constant["log_loss"] - 0.01


def with_rising_churn(snapshots: pd.DataFrame, since: pd.Timestamp, share: float, seed: int):
    """A shock the features do not show: from `since` on, a share of the customers who
    would have stayed churn anyway (labels only; the as-of rows have none)."""
    out = snapshots.copy()
    rng = np.random.default_rng(seed)
    hit = (
        out["is_label_mature"]
        & (pd.to_datetime(out["cutoff_date"]) >= since)
        & (out["is_churned"] == False)  # noqa: E712 - a nullable boolean column
        & (rng.uniform(size=len(out)) < share)
    )
    out.loc[hit, "is_churned"] = True
    out.loc[hit, "orders_in_horizon"] = 0
    return out


@pytest.mark.slow
def test_a_rising_churn_rate_is_corrected_by_what_ships(snapshots):
    """The churn rate rises by about 10 points at the latest cutoffs. A refit without a
    correction predicts the pooled (older, lower) rate; the chosen recipe's calibration is
    learned at the latest cutoff labelled by each origin, so its aggregate error is far
    smaller there."""
    c = mature_cutoffs(snapshots)
    drifted = with_rising_churn(snapshots, c[5], share=0.25, seed=9)
    rates = drifted[drifted["is_label_mature"]].groupby("cutoff_date")["is_churned"].mean()
    assert rates[c[0]] - rates[c[8]] > 0.08
    result = train_churn_model(drifted, fast_config())
    evaluation = result.evaluation
    chosen = chosen_row(result)
    assert chosen["calibration"] != "none"
    uncorrected = row(evaluation, f"{chosen['learner']}/none/refit")
    assert abs(chosen["aggregate_error"]) < abs(uncorrected["aggregate_error"]) - 0.03
    assert chosen["log_loss"] < uncorrected["log_loss"]
    assert 0 <= result.run["share_above_0_99"] <= 1


# ---------------------------------------------------------------- calibration


def test_isotonic_never_maps_a_small_top_bin_to_certainty():
    """Degenerate bins: 60 top-scored customers all churned. Unbinned isotonic maps them
    to ~1; ours needs 100 rows a bin and stays within [0.01, 0.99]."""
    rng = np.random.default_rng(0)
    raw = np.sort(rng.uniform(0, 1, 3000))
    y = (rng.uniform(size=3000) < raw * 0.8).astype(float)
    y[-60:] = 1.0
    calibrated = Calibrator("isotonic").fit(raw, y).transform(raw)
    assert calibrated.max() <= 0.99 and calibrated.min() >= 0.01
    assert (np.diff(calibrated) >= -1e-12).all()  # monotone: the ranking is kept


def test_calibrations_fix_a_miscalibrated_score_without_reranking():
    rng = np.random.default_rng(2)
    truth = rng.beta(2, 2, size=3000)
    y = (rng.uniform(size=truth.size) < truth).astype(float)
    overconfident = truth**3  # same ranking, far too low
    raw_loss = metrics.probability_metrics(y, overconfident)["log_loss"]
    for method in ("prior_shift", "sigmoid", "isotonic"):
        fixed = Calibrator(method).fit(overconfident, y).transform(overconfident)
        assert abs(fixed.mean() - y.mean()) < 0.02, method
        assert metrics.probability_metrics(y, fixed)["log_loss"] < raw_loss - 0.02, method
        order = np.argsort(overconfident)
        assert (np.diff(fixed[order]) >= -1e-12).all(), method
    assert skm.roc_auc_score(y, Calibrator("sigmoid").fit(overconfident, y).transform(
        overconfident)) == pytest.approx(skm.roc_auc_score(y, truth), abs=1e-9)  # fmt: skip


# ---------------------------------------------------------------- importance


@pytest.mark.slow
def test_permutation_importance_finds_the_signal_and_ignores_noise(snapshots):
    noisy = snapshots.assign(noise_feature=np.random.default_rng(1).normal(size=len(snapshots)))
    result = train_churn_model(noisy, fast_config())
    importance = result.importance.set_index(["scope", "feature"])["importance"]
    assert importance[("family", "recency")] > 0.02
    assert abs(importance[("feature", "noise_feature")]) < 0.005
    assert importance[("family", "recency")] > importance[("feature", "noise_feature")] + 0.02
    assert set(result.importance["scope"]) == {"feature", "family"}


# ---------------------------------------------------------------- label sufficiency


def test_insufficient_labels_error_names_the_numbers():
    small = make_snapshots(n_customers=40, n_mature=8, seed=1)
    with pytest.raises(InsufficientLabelsError) as error:
        train_churn_model(small, fast_config())
    message = str(error.value)
    assert "labelled rows" in message and "need at least 200 rows and 20 of each class" in message


def test_no_mature_cutoff_is_a_clear_error(snapshots):
    scoring_only = snapshots[snapshots["is_scoring_cutoff"]]
    with pytest.raises(InsufficientLabelsError, match="no mature cutoff"):
        train_churn_model(scoring_only, fast_config())


# ---------------------------------------------------------------- reproducibility and versions


@pytest.mark.slow
def test_same_input_and_seed_reproduce_the_run(result, snapshots):
    rerun = train_churn_model(snapshots, fast_config())
    assert rerun.model_version == result.model_version
    pd.testing.assert_frame_equal(rerun.evaluation, result.evaluation)
    pd.testing.assert_frame_equal(rerun.validation_predictions, result.validation_predictions)
    pd.testing.assert_frame_equal(rerun.importance, result.importance)
    assert np.array_equal(rerun.challenger.predict(snapshots), result.challenger.predict(snapshots))
    for key in ("chosen_model", "calibration", "decision_threshold", "metrics", "parameters"):
        assert rerun.run[key] == result.run[key], key


def test_model_version_depends_on_data_and_config_not_row_order(result, snapshots):
    assert result.model_version.startswith("churn-")
    assert result.run["data_fingerprint"] == data_fingerprint(snapshots)
    reordered = snapshots.sample(frac=1.0, random_state=3)
    assert data_fingerprint(reordered) == data_fingerprint(snapshots)
    changed = snapshots.copy()
    changed.loc[changed.index[-1], "revenue_total"] += 1.0
    assert data_fingerprint(changed) != data_fingerprint(snapshots)


# ---------------------------------------------------------------- champion / challenger


class FixedChampion:
    """A ChurnModel-like champion: its predictions come from a function of the rows."""

    name = "some/old/recipe"
    learner = "logistic_regression"

    def __init__(self, predict, trained_through, features=("days_since_last_order",)):
        self.predict = predict
        self.trained_through = pd.Timestamp(trained_through)
        self.features = list(features)


def oracle(frame):  # knows the outcome: better than any honest challenger
    return np.where(frame["is_churned"].astype(float) == 1, 0.97, 0.03)


def coin(frame):
    return np.full(len(frame), 0.5)


@pytest.mark.slow
def test_a_better_champion_out_of_time_is_kept(snapshots):
    c = mature_cutoffs(snapshots)
    champion = FixedChampion(oracle, trained_through=c[0])
    result = train_churn_model(snapshots, fast_config(), champion, "churn-oracle")
    assert result.run["promoted"] is False
    assert "out of time for both" in result.run["decision_reason"]
    assert row(result.evaluation, "champion_churn-oracle")["model_kind"] == "champion"


@pytest.mark.slow
def test_a_worse_champion_is_replaced(snapshots):
    c = mature_cutoffs(snapshots)
    result = train_churn_model(snapshots, fast_config(), FixedChampion(coin, c[0]), "churn-coin")
    assert result.run["promoted"] is True
    assert row(result.evaluation, "champion_churn-coin")["log_loss"] == pytest.approx(np.log(2))
    assert "vs champion 0.6931" in result.run["decision_reason"]


@pytest.mark.slow
def test_a_champion_trained_on_the_validation_window_is_compared_by_recipe(snapshots):
    """A champion that has seen outcomes inside the latest origin's window would look better
    than it is; its recipe is re-validated on this run's origins instead."""
    as_of = pd.Timestamp(snapshots["as_of_date"].max())
    champion = FixedChampion(oracle, trained_through=as_of)
    result = train_churn_model(snapshots, fast_config(), champion, "churn-recent")
    assert result.run["promoted"] is True
    assert "cannot be validated out of time" in result.run["decision_reason"]
    champion.name = result.run["chosen_model"]
    again = train_churn_model(snapshots, fast_config(), champion, "churn-recent")
    assert "re-validated on this run's origins" in again.run["decision_reason"]


@pytest.mark.slow
def test_a_champion_with_missing_features_is_replaced(snapshots):
    c = mature_cutoffs(snapshots)
    champion = FixedChampion(coin, c[0], features=["a_feature_no_longer_built"])
    result = train_churn_model(snapshots, fast_config(), champion, "churn-old")
    assert result.run["promoted"] is True
    assert "no longer produced" in result.run["decision_reason"]


# ---------------------------------------------------------------- BTYD and the network (slow)


@pytest.fixture(scope="module")
def btyd_result(snapshots):
    return train_churn_model(snapshots, TrainingConfig(candidates=("logistic_regression",)))


@pytest.mark.slow
def test_btyd_baselines_and_blend_are_validated(btyd_result):
    evaluation = btyd_result.evaluation
    names = set(evaluation["model_name"])
    assert {
        "bg_nbd_p_no_purchase",
        "pareto_nbd_p_no_purchase",
        "bg_nbd_one_minus_p_alive",
        "bg_nbd/sigmoid",
        "logistic_regression/btyd_blend/refit",
    } <= names
    p0 = row(evaluation, "bg_nbd_p_no_purchase")
    anti = row(evaluation, "bg_nbd_one_minus_p_alive")
    assert p0["auc"] > 0.8 and p0["auc"] > anti["auc"] + 0.1
    assert anti["model_kind"] == "anti_baseline"


@pytest.mark.slow
def test_a_baseline_ships_with_scores_from_recency_and_frequency(snapshots):
    """With no classifier among the candidates only the baselines (and calibrated BTYD)
    compete: the winner ships as a real model, fitted at as_of_date, that scores from
    the purchase history alone."""
    result = train_churn_model(snapshots, TrainingConfig(candidates=()))
    assert result.run["learner"] in ("bg_nbd", "pareto_nbd")
    model = result.challenger
    assert model.is_btyd
    assert model.features == ["order_days_count", "days_since_first_order", "days_since_last_order"]
    as_of = snapshots[snapshots["is_scoring_cutoff"]]
    np.testing.assert_allclose(model.predict(as_of), result.as_of_predictions["shipped"])
    assert chosen_row(result)["log_loss"] < row(result.evaluation, "constant_rate")["log_loss"]


@pytest.mark.slow
def test_btyd_models_survive_the_registry_round_trip(snapshots, tmp_path):
    """PyMC models do not pickle; the registry stores their fitted InferenceData. A blend
    and a BTYD recipe predict the same after a save and a load."""
    import joblib

    config = TrainingConfig(candidates=("logistic_regression",), calibration="btyd_blend")
    for result in (
        train_churn_model(snapshots, config),
        train_churn_model(snapshots, TrainingConfig(candidates=())),
    ):
        path = tmp_path / "model.joblib"
        joblib.dump(result.challenger, path)
        loaded = joblib.load(path)
        as_of = snapshots[snapshots["is_scoring_cutoff"]]
        np.testing.assert_allclose(loaded.predict(as_of), result.challenger.predict(as_of))


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
    np.testing.assert_allclose(rfm["frequency"], [0, 2, 4])
    np.testing.assert_allclose(rfm["T"], [2, 10, 50])
    np.testing.assert_allclose(rfm["recency"], [0, 9, 45])
    np.testing.assert_allclose(rfm["monetary_value"], [10, 30, 0])
    with pytest.raises(ValueError, match="at least one purchase"):
        rfm_from_snapshots(snapshots.assign(order_days_count=[0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="days_since_last_order"):
        rfm_from_snapshots(snapshots.drop(columns="days_since_last_order"))


@pytest.mark.slow
def test_keras_candidate_is_reproducible(snapshots):
    mature = snapshots[snapshots["is_label_mature"]]
    X = mature[["days_since_last_order", "orders_count", "orders_90d"]].to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = mature["is_churned"].astype(float).to_numpy()
    first = KerasMLPClassifier(epochs=4, random_state=7).fit(X, y).predict_proba(X)
    second = KerasMLPClassifier(epochs=4, random_state=7).fit(X, y).predict_proba(X)
    other_seed = KerasMLPClassifier(epochs=4, random_state=8).fit(X, y).predict_proba(X)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other_seed)
