"""BTYD fits through the process's compiled MAP objective (retention.churn.btyd.CompiledMap)
give the library's own MAP estimates, fit after fit on different customers."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from churn_fixtures import make_snapshots
from retention.churn.btyd import BtydModel, CompiledMap, compiled_map, customer_lifetime_value
from retention.churn.pipeline import run_customer_value


def simulated_rfm(customers: int, seed: int) -> pd.DataFrame:
    """Repeat-purchase histories in weeks: Poisson purchases while alive, a random death."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(5, 60, customers)
    rate = rng.gamma(0.8, 0.25, customers)
    alive_for = T * rng.uniform(0.2, 1.0, customers)
    frequency = rng.poisson(rate * alive_for).astype(float)
    recency = np.where(frequency > 0, alive_for * rng.uniform(0.5, 1.0, customers), 0.0)
    spend = rng.gamma(4.0, 10.0, customers)
    return pd.DataFrame(
        {
            "customer_id": np.arange(customers),
            "frequency": frequency,
            "recency": recency,
            "T": T,
            "monetary_value": spend,
        }
    )


def library_estimates(kind: str, rfm: pd.DataFrame) -> dict[str, float]:
    """PyMC-Marketing's own MAP fit (pm.find_MAP on a freshly built model)."""
    model = BtydModel(kind)._model_class()()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data=rfm[["customer_id", "frequency", "recency", "T"]], method="map",
                  progressbar=False)  # fmt: skip
    posterior = model.idata.posterior
    return {name: float(posterior[name].mean()) for name in posterior.data_vars}


@pytest.mark.parametrize("kind", ["bg_nbd", "pareto_nbd"])
def test_compiled_fits_equal_the_library_fit_on_each_data_set(kind):
    fitted = []
    for seed in (1, 2):  # the same compiled objective, its data swapped between the fits
        rfm = simulated_rfm(600 + 400 * seed, seed)
        ours = BtydModel(kind).fit(rfm).params_
        theirs = library_estimates(kind, rfm)
        assert set(ours) <= set(theirs)
        for name, value in ours.items():
            assert value == pytest.approx(theirs[name], rel=1e-5), name
        fitted.append(ours)
    assert fitted[0] != fitted[1]


def test_the_objective_is_compiled_once_per_kind():
    BtydModel("bg_nbd").fit(simulated_rfm(300, seed=3))
    compiled = compiled_map("bg_nbd")
    BtydModel("bg_nbd").fit(simulated_rfm(400, seed=4))
    assert compiled_map("bg_nbd") is compiled


def test_a_compiled_fit_scores_and_survives_pickling_as_a_library_model():
    rfm = simulated_rfm(600, seed=5)
    model = BtydModel("bg_nbd").fit(rfm)
    restored = pickle.loads(pickle.dumps(model))
    assert type(restored.model_) is BtydModel("bg_nbd")._model_class()
    before, after = model.score(rfm, 90), restored.score(rfm, 90)
    np.testing.assert_allclose(before.p_alive, after.p_alive)
    np.testing.assert_allclose(before.expected_purchases, after.expected_purchases)
    assert ((before.p_no_purchase >= 0) & (before.p_no_purchase <= 1)).all()
    clv = customer_lifetime_value(model, rfm, 365)
    assert np.isfinite(clv).all() and (clv > 0).all()


def test_customer_value_fits_on_the_sample_and_scores_every_buyer():
    snapshots = make_snapshots(n_customers=400, n_mature=2, seed=2)
    buyers = snapshots[snapshots["is_scoring_cutoff"] & (snapshots["order_days_count"] >= 1)]
    settings = {"churn_horizon_days": 90, "clv_horizon_days": 365}
    whole = run_customer_value(snapshots, {**settings, "btyd_max_fit_customers": 10_000})
    sampled = run_customer_value(snapshots, {**settings, "btyd_max_fit_customers": 100})
    assert len(whole) == len(sampled) == len(buyers) > 100
    assert set(sampled["customer_id"]) == set(buyers["customer_id"].astype(str))
    assert sampled["p_alive"].between(0, 1).all()
    # The parameters come from 100 buyers: close to, but not, the all-buyer fit.
    assert not np.allclose(whole["p_alive"], sampled["p_alive"])
    assert np.corrcoef(whole["expected_purchases_horizon"],
                       sampled["expected_purchases_horizon"])[0, 1] > 0.9  # fmt: skip


def _losing_c_code(monkeypatch, failures: int) -> list[int]:
    """CompiledMap._compile whose first `failures` compilations give a gradient that fails as
    PyTensor's does when a loop's C code did not compile (pymc-marketing issue 1760)."""
    compiled, original = [], CompiledMap._compile

    def flaky(self):
        original(self)
        compiled.append(1)
        if len(compiled) <= failures:

            def lost(point):
                raise AttributeError("'Scratchpad' object has no attribute 'ufunc'")

            self._dlogp = lost

    monkeypatch.setattr(CompiledMap, "_compile", flaky)
    return compiled


def test_an_objective_that_lost_its_c_code_is_compiled_again(monkeypatch):
    compiled = _losing_c_code(monkeypatch, failures=1)
    objective = CompiledMap("bg_nbd")
    assert len(compiled) == 2
    point = objective.solve(simulated_rfm(300, seed=3))
    assert all(np.isfinite(v).all() for v in point.values())


def test_an_objective_that_loses_it_twice_says_what_to_do(monkeypatch):
    _losing_c_code(monkeypatch, failures=2)
    with pytest.raises(RuntimeError, match="delete PyTensor's cache"):
        CompiledMap("bg_nbd")


@pytest.mark.parametrize("kind", ["bg_nbd", "pareto_nbd"])
def test_p_no_purchase_alone_equals_the_full_score(kind):
    rfm = simulated_rfm(500, seed=8)
    model = BtydModel(kind).fit(rfm)
    assert np.array_equal(model.p_no_purchase(rfm, 90), model.score(rfm, 90).p_no_purchase)


def test_the_btyd_learner_reuses_its_last_result_only_for_the_same_inputs(monkeypatch):
    from retention.churn.model import BtydLearner

    model = BtydModel("bg_nbd").fit(simulated_rfm(400, seed=9))
    learner = BtydLearner(model, 90)
    rng = np.random.default_rng(1)
    first = rng.uniform(10, 400, 300).round()
    snapshots = pd.DataFrame(
        {
            "order_days_count": rng.integers(1, 8, 300).astype(float),
            "days_since_first_order": first,
            "days_since_last_order": (first * rng.uniform(0, 1, 300)).round(),
            "sessions_30d": rng.integers(0, 9, 300),
        }
    )
    calls = []
    real = BtydModel.p_no_purchase
    monkeypatch.setattr(
        BtydModel, "p_no_purchase", lambda self, *a: calls.append(1) or real(self, *a)
    )
    p = learner.predict_proba(snapshots)
    other_columns = snapshots.assign(sessions_30d=0)  # what reasons and importance change
    assert np.array_equal(learner.predict_proba(other_columns), p) and len(calls) == 1
    moved = snapshots.assign(days_since_last_order=snapshots["days_since_last_order"] + 1)
    assert not np.array_equal(learner.predict_proba(moved), p) and len(calls) == 2
    assert np.array_equal(learner.predict_proba(snapshots), p) and len(calls) == 3
    restored = pickle.loads(pickle.dumps(learner))
    assert not hasattr(restored, "_last")
    assert np.allclose(restored.predict_proba(snapshots), p)
