"""Uplift learners, their evaluation and offer targeting (retention.uplift), on simulated
randomized campaigns whose true individual effects are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retention.uplift import evaluation, learners, targeting

pytestmark = pytest.mark.usefixtures("one_thread")

TREATED_SHARE = 0.75
VALUE = 100.0  # a retained customer's value
COST = 5.0  # a contact's cost


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """A randomized campaign: features, treated, retained, and the true effect tau.

    Persuadables (recency 60..240 days) gain 0.30 in P(retained) when contacted; sleeping
    dogs (recency < 45 days and >= 4 orders) lose 0.25; the others are unmoved. Base
    retention falls with recency. x_has_app (boolean) and x_avg_gap (20% missing) are
    noise the learners must tolerate.
    """
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 400, n)
    frequency = rng.poisson(3.0, n).astype(float)
    tau = np.where(
        (recency >= 60) & (recency <= 240),
        0.30,
        np.where((recency < 45) & (frequency >= 4), -0.25, 0.0),
    )
    base = 0.6 - 0.5 * recency / 400 + 0.02 * np.minimum(frequency, 5)
    treated = (rng.uniform(size=n) < TREATED_SHARE).astype(int)
    y = (rng.uniform(size=n) < np.clip(base + treated * tau, 0, 1)).astype(int)
    features = pd.DataFrame(
        {
            "x_recency": recency,
            "x_frequency": frequency,
            "x_has_app": rng.uniform(size=n) < 0.4,
            "x_avg_gap": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.exponential(30, n)),
        }
    )
    return features, treated, y, tau


@pytest.fixture(scope="module")
def train():
    return simulate(8000, seed=1)


@pytest.fixture(scope="module")
def held_out():
    """A later, independent campaign: where the learners and the rules are judged."""
    return simulate(8000, seed=2)


@pytest.fixture(scope="module")
def effects(train, held_out) -> dict[str, np.ndarray]:
    X, treated, y, _ = train
    return {
        name: learners.make_uplift_learner(name, seed=0).fit(X, treated, y).effect(held_out[0])
        for name in learners.UPLIFT_LEARNERS
    }


@pytest.mark.parametrize("name", learners.UPLIFT_LEARNERS)
def test_learners_recover_the_true_effects(effects, held_out, name):
    X, _, _, tau = held_out
    estimate = effects[name]
    assert estimate.shape == (len(X),) and np.isfinite(estimate).all()
    assert np.corrcoef(estimate, tau)[0, 1] > 0.6
    sleeping_dogs = (X["x_recency"] < 45) & (X["x_frequency"] >= 4)
    persuadables = X["x_recency"].between(60, 240)
    assert estimate[sleeping_dogs].mean() < 0
    assert estimate[persuadables].mean() > 0


def test_learners_are_deterministic_and_follow_the_training_columns(train, held_out, effects):
    X, treated, y, _ = train
    again = learners.make_uplift_learner("t_learner", seed=0).fit(X, treated, y)
    reordered = held_out[0][list(reversed(X.columns))]
    np.testing.assert_array_equal(again.effect(reordered), effects["t_learner"])


def test_qini_ranks_the_true_effect_and_the_learners_above_random(effects, held_out):
    _, treated, y, tau = held_out
    random_score = np.random.default_rng(3).uniform(size=len(tau))
    random_qini = evaluation.qini_coefficient(random_score, treated, y)
    assert evaluation.qini_coefficient(tau, treated, y) > random_qini
    for estimate in effects.values():
        assert evaluation.qini_coefficient(estimate, treated, y) > random_qini
    assert evaluation.uplift_at_k(tau, treated, y, 0.3) > 0.15
    curve = evaluation.qini_curve(tau, treated, y)
    assert list(curve.columns) == [
        "share_targeted",
        "incremental_retained",
        "random_incremental_retained",
    ]
    assert len(curve) == 101 and curve["share_targeted"].iloc[[0, -1]].tolist() == [0.0, 1.0]


def test_qini_and_uplift_at_k_hand_computed():
    """Six rows in score order: (treated, retained) = (1,1) (0,0) (1,1) (1,0) (0,1) (0,0).
    Q(k) = R_t - R_c * N_t / N_c, with 0 before the first control row:
    k=1: 1; k=2: 1 - 0; k=3: 2; k=4: 2; k=5: 2 - 1 * 3/2 = 0.5; k=6: 2 - 1 * 3/3 = 1."""
    score = np.array([6, 5, 4, 3, 2, 1])
    treated = np.array([1, 0, 1, 1, 0, 0])
    y = np.array([1, 0, 1, 0, 1, 0])
    curve = evaluation.qini_curve(score, treated, y, points=7)
    assert curve["incremental_retained"].tolist() == [0, 1, 1, 2, 2, 0.5, 1]
    np.testing.assert_allclose(curve["random_incremental_retained"], np.arange(7) / 6)
    # Curve minus random line: 0, 5/6, 4/6, 9/6, 8/6, -2/6, 0; trapezoids of width 1/6
    # give an area of 4/6, over 6 rows.
    assert evaluation.qini_coefficient(score, treated, y) == pytest.approx(4 / 6 / 6)
    # Top 3: treated retained 2 of 2, control 0 of 1. All: 2/3 against 1/3.
    assert evaluation.uplift_at_k(score, treated, y, 0.5) == pytest.approx(1.0)
    assert evaluation.uplift_at_k(score, treated, y, 1.0) == pytest.approx(1 / 3)
    # The top row alone has no control row to compare with.
    assert np.isnan(evaluation.uplift_at_k(score, treated, y, 1 / 6))


def test_policy_value_hand_computed():
    """p = 0.5; selected rows 0, 1, 3. Row 0 treated and retained: 10 * 1/0.5 - 1 = 19;
    row 1 control and retained: -10 * 1/0.5 - 1 = -21; row 3 control, lost: -1."""
    selected = np.array([True, True, False, True])
    value = evaluation.policy_value(selected, [1, 0, 1, 0], [1, 1, 1, 0], 10.0, 1.0, p=0.5)
    assert value == pytest.approx(19 - 21 - 1)
    with pytest.raises(ValueError, match="treated share"):
        evaluation.policy_value(selected, [1, 0, 1, 0], [1, 1, 1, 0], 10.0, 1.0, p=1.0)


def test_policy_value_is_unbiased():
    """Same customers and selection, 200 re-randomized campaigns: the mean estimate is
    within 3 standard errors of the true incremental profit of the selection."""
    X, _, _, tau = simulate(2000, seed=4)
    rng = np.random.default_rng(5)
    value = rng.lognormal(np.log(VALUE), 0.5, len(tau))
    selected = X["x_recency"].to_numpy() < 200  # persuadables, sleeping dogs and others
    truth = float(np.sum((value * tau - COST)[selected]))
    base = 0.6 - 0.5 * X["x_recency"].to_numpy() / 400
    treated = (rng.uniform(size=(200, len(tau))) < TREATED_SHARE).astype(int)
    y = (rng.uniform(size=treated.shape) < base + treated * tau).astype(int)
    estimates = np.array(
        [
            evaluation.policy_value(selected, t, outcome, value, COST, TREATED_SHARE)
            for t, outcome in zip(treated, y, strict=True)
        ]
    )
    standard_error = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - truth) < 3 * standard_error


def test_augmented_policy_value_is_unbiased_and_less_noisy():
    """With outcome models from elsewhere (here deliberately rough: the base rate and the
    base rate + 0.1), the augmented estimate stays unbiased over re-randomized campaigns
    and its spread is well below the inverse-propensity estimate's (uneven values)."""
    X, _, _, tau = simulate(2000, seed=4)
    rng = np.random.default_rng(5)
    value = rng.lognormal(np.log(VALUE), 1.0, len(tau))
    selected = X["x_recency"].to_numpy() < 200
    truth = float(np.sum((value * tau - COST)[selected]))
    base = 0.6 - 0.5 * X["x_recency"].to_numpy() / 400
    models = (base, np.clip(base + 0.1, 0, 1))
    treated = (rng.uniform(size=(200, len(tau))) < TREATED_SHARE).astype(int)
    y = (rng.uniform(size=treated.shape) < base + treated * tau).astype(int)
    ipw, aipw = (
        np.array(
            [
                evaluation.policy_value(
                    selected, t, o, value, COST, TREATED_SHARE, outcome_models=m
                )
                for t, o in zip(treated, y, strict=True)
            ]
        )
        for m in (None, models)
    )
    assert abs(aipw.mean() - truth) < 3 * aipw.std(ddof=1) / np.sqrt(len(aipw))
    assert aipw.std() < 0.8 * ipw.std()  # 0.72 here, with these rough models


def test_select_within_budget_hand_computed():
    """By score: rows 2 and 5 (0.9, ties in input order), 0, 4, then 3 (0) and 1 (< 0).
    Costs 3 + 1 fit a budget of 5; row 0 (cost 2) would not, and ends the list."""
    score = np.array([0.5, -0.1, 0.9, 0.0, 0.3, 0.9])
    cost = np.array([2.0, 1.0, 3.0, 1.0, 1.0, 1.0])
    selected = evaluation.select_within_budget(score, cost, 5.0)
    assert selected.tolist() == [False, False, True, False, False, True]
    assert evaluation.select_within_budget(score, cost, 100.0).tolist() == [
        True, False, True, False, True, True,
    ]  # fmt: skip
    assert evaluation.select_within_budget(score, cost, 100.0, positive_only=False).all()
    assert not evaluation.select_within_budget(score, cost, 0.5).any()


def test_select_within_budget_respects_budget_sign_and_order():
    rng = np.random.default_rng(6)
    score = rng.normal(size=5000)
    cost = rng.uniform(1, 10, size=5000)
    for budget in (0.0, 100.0, 2000.0, 1e9):
        selected = evaluation.select_within_budget(score, cost, budget)
        assert cost[selected].sum() <= budget
        assert (score[selected] > 0).all()
        eligible_left = ~selected & (score > 0)
        if selected.any() and eligible_left.any():
            assert score[selected].min() >= score[eligible_left].max()
    assert evaluation.select_within_budget(score, cost, 1e9).sum() == (score > 0).sum()


def test_bootstrap_compares_rules_with_paired_intervals(effects, held_out):
    _, treated, y, tau = held_out
    scores = {
        "random": np.random.default_rng(7).uniform(size=len(tau)),
        "true_tau": tau,
        "true_tau_again": tau.copy(),
        "x_learner": effects["x_learner"],
    }
    budget = 0.3 * len(tau) * COST
    table = evaluation.bootstrap_policy_values(
        scores, treated, y, VALUE, COST, TREATED_SHARE, budget, n_boot=300, reference="random"
    )
    assert table["rule"].tolist() == list(scores)
    assert (table["selected_cost"] <= budget).all()
    assert (table["ci_low"] <= table["policy_value"]).all()
    assert (table["policy_value"] <= table["ci_high"]).all()
    rows = table.set_index("rule")
    assert rows.loc["random", ["difference_vs_reference", "difference_ci_low"]].tolist() == [0, 0]
    assert rows.loc["true_tau_again"].equals(rows.loc["true_tau"])
    assert rows.loc["true_tau", "difference_ci_low"] > 0
    assert rows.loc["true_tau", "policy_value"] == pytest.approx(
        evaluation.policy_value(
            evaluation.select_within_budget(tau, COST, budget), treated, y, VALUE, COST, 0.75
        )
    )
    # The same rule under another name: a paired difference of exactly 0.
    against_itself = evaluation.bootstrap_policy_values(
        scores, treated, y, VALUE, COST, TREATED_SHARE, budget, n_boot=50, reference="true_tau"
    ).set_index("rule")
    assert against_itself.loc["true_tau_again"].filter(like="difference").eq(0).all()
    no_reference = evaluation.bootstrap_policy_values(
        scores, treated, y, VALUE, COST, TREATED_SHARE, budget, n_boot=20
    )
    assert no_reference["difference_vs_reference"].isna().all()


def test_oracle_share():
    assert evaluation.oracle_share(30.0, 120.0) == pytest.approx(0.25)
    assert np.isnan(evaluation.oracle_share(30.0, 0.0))


def test_choose_offers():
    """Value 100; a discount costs 5, an email 0.5."""
    effects = pd.DataFrame(
        {
            "discount": [0.10, 0.03, -0.05, 0.02],
            "email": [0.02, 0.02, -0.01, 0.004],
        },
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )
    chosen = targeting.choose_offers(effects, np.full(4, VALUE), {"discount": 5.0, "email": 0.5})
    assert list(chosen.columns) == [
        "offer_type",
        "uplift",
        "expected_incremental_profit",
        "decision",
    ]
    assert chosen.index.equals(effects.index)
    # a: discount 10 - 5 = 5 beats email 2 - 0.5; b: email 1.5 beats discount 3 - 5.
    assert chosen["offer_type"].tolist() == ["discount", "email", "email", "email"]
    np.testing.assert_allclose(chosen["expected_incremental_profit"], [5.0, 1.5, -1.5, -0.1])
    np.testing.assert_allclose(chosen["uplift"], [0.10, 0.02, -0.01, 0.004])
    assert chosen["decision"].tolist() == [
        "contact", "contact", "do_not_disturb", "not_worth_the_cost",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="no cost for offers"):
        targeting.choose_offers(effects, VALUE, {"discount": 5.0})


@pytest.mark.parametrize("name", learners.UPLIFT_LEARNERS)
def test_learners_reject_campaigns_they_cannot_learn_from(train, name):
    X, treated, y, _ = train
    learner = learners.make_uplift_learner(name, seed=0)
    with pytest.raises(ValueError, match="both retained and not retained"):
        learner.fit(X, treated, np.ones_like(y))
    tiny_control = treated.copy()
    tiny_control[np.flatnonzero(treated == 0)[20:]] = 1
    with pytest.raises(ValueError, match="control arm has 20 rows, fewer than 50"):
        learner.fit(X, tiny_control, y)
    with pytest.raises(ValueError, match="encode categoricals"):
        learner.fit(X.assign(segment="vip"), treated, y)
    with pytest.raises(ValueError, match="not fitted"):
        learner.effect(X)
    with pytest.raises(ValueError, match="unknown uplift learner"):
        learners.make_uplift_learner("s_learner", seed=0)


def test_bootstrap_positive_only_per_rule():
    """A score that is not an effect (centred here) keeps its rows <= 0 when told so."""
    _, treated, y, tau = simulate(500, seed=8)
    centred = np.random.default_rng(9).normal(size=len(tau))
    args = ({"centred": centred, "tau": tau}, treated, y, VALUE, COST, TREATED_SHARE, 1e9)
    per_rule = evaluation.bootstrap_policy_values(
        *args, n_boot=20, positive_only={"centred": False}
    ).set_index("rule")
    assert per_rule.at["centred", "selected_rows"] == len(tau)
    assert per_rule.at["tau", "selected_rows"] == (tau > 0).sum()
    everywhere = evaluation.bootstrap_policy_values(*args, n_boot=20).set_index("rule")
    assert everywhere.at["centred", "selected_rows"] == (centred > 0).sum()
