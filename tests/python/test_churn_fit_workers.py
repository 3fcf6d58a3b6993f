"""Parallel fits (RETENTION_ML_FIT_WORKERS): the same run, only faster.

Training fits each learner at several dates; with more than one worker those fits run in
threads. Each fit is single-threaded and seeded, so the selection, every validation
metric, the shipped scores and the model version must be identical to one worker's.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from churn_fixtures import FAST_CANDIDATES, make_snapshots
from retention.churn.fits import OutOfTimeFits, rows_by_cutoff, sample_customers
from retention.churn.frames import prepare_snapshots
from retention.churn.pipeline import fit_workers
from retention.churn.recipes import apply_recipe, models_needed, scores_needed
from retention.churn.training import (
    TrainingConfig,
    candidate_recipes,
    split_snapshots,
    train_churn_model,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=900, n_mature=10, seed=3)


def assert_same_run(one, two) -> None:
    assert one.model_version == two.model_version
    assert one.run["chosen_model"] == two.run["chosen_model"]
    pd.testing.assert_frame_equal(
        one.evaluation.drop(columns="model_version"),
        two.evaluation.drop(columns="model_version"),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(one.as_of_predictions, two.as_of_predictions, check_exact=True)
    pd.testing.assert_frame_equal(
        one.validation_predictions, two.validation_predictions, check_exact=True
    )


def test_two_workers_train_exactly_what_one_does(snapshots):
    config = {"candidates": (*FAST_CANDIDATES, "ensemble_mean"), "use_btyd": False,
              "score_all_candidates": True}  # fmt: skip
    one = train_churn_model(snapshots, TrainingConfig(**config, fit_workers=1))
    two = train_churn_model(snapshots, TrainingConfig(**config, fit_workers=2))
    assert_same_run(one, two)
    # the same fits were made, once each
    assert one.timings.keys() == two.timings.keys()


def lazy_and_eager(snapshots, use_btyd: bool):
    """Two fresh OutOfTimeFits of one split, and the recipes they serve."""
    config = TrainingConfig(candidates=(*FAST_CANDIDATES, "ensemble_mean"), use_btyd=use_btyd)
    split = split_snapshots(snapshots, config)
    args = (split.frame, split.plan, split.numeric, split.categorical,
            list(config.candidates), config.seed, config.max_training_rows)  # fmt: skip
    lazy, eager = OutOfTimeFits(*args), OutOfTimeFits(*args)
    return split, lazy, eager, candidate_recipes(split, lazy, config)


def test_prefetch_fits_exactly_the_models_the_recipes_use(snapshots):
    split, lazy, eager, recipes = lazy_and_eager(snapshots, use_btyd=False)
    eager.prefetch(models_needed(recipes, split.plan.origins), workers=2)
    prefetched = set(eager._pipelines)

    for recipe in recipes:
        for origin in split.plan.origins:
            np.testing.assert_array_equal(
                apply_recipe(recipe, origin, lazy), apply_recipe(recipe, origin, eager)
            )

    def fitted(fits):
        return {key for key in fits._pipelines if key[0] != "ensemble_mean"}

    assert prefetched == fitted(lazy)  # what the lazy path fitted on first use
    assert fitted(eager) == prefetched  # and nothing was left to fit after the prefetch


def test_two_workers_with_btyd_train_exactly_what_one_does(snapshots):
    # The BTYD fits, the scores and the importance move into the workers with two.
    config = {"candidates": (*FAST_CANDIDATES, "ensemble_mean"), "use_btyd": True}
    one = train_churn_model(snapshots, TrainingConfig(**config, fit_workers=1))
    two = train_churn_model(snapshots, TrainingConfig(**config, fit_workers=2))
    assert_same_run(one, two)
    pd.testing.assert_frame_equal(one.importance, two.importance, check_exact=True)
    assert one.timings.keys() == two.timings.keys()


def test_prefetch_scores_everything_the_recipes_read(snapshots):
    split, lazy, eager, recipes = lazy_and_eager(snapshots, use_btyd=True)
    origins = split.plan.origins
    eager.prefetch(models_needed(recipes, origins), 2, scores_needed(recipes, origins))
    computed = (set(eager._raw), set(eager._btyd_p0), set(eager._btyd))
    assert any(key[0] == "pareto_nbd" for key in computed[2])  # BTYD fitted in the workers

    for recipe in recipes:
        for origin in origins:
            np.testing.assert_array_equal(
                apply_recipe(recipe, origin, lazy), apply_recipe(recipe, origin, eager)
            )
    members = {key for key in eager._raw if key[0] != "ensemble_mean"}
    assert members == computed[0] - {k for k in computed[0] if k[0] == "ensemble_mean"}
    assert set(eager._btyd_p0) == computed[1] and set(eager._btyd) == computed[2]


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETENTION_ML_FIT_WORKERS", "3")
    assert fit_workers() == 3
    monkeypatch.setenv("RETENTION_ML_FIT_WORKERS", "0")
    assert fit_workers() == 1
    monkeypatch.delenv("RETENTION_ML_FIT_WORKERS")
    assert fit_workers() == min(2, len(os.sched_getaffinity(0)))


@pytest.fixture(scope="module")
def few_snapshots() -> pd.DataFrame:
    """Fewer customers and cutoffs than `snapshots`: the Keras identity check fits the
    network at every origin twice (one worker, then two), and its cost grows with the rows."""
    return make_snapshots(n_customers=400, n_mature=6, seed=3)


@pytest.mark.slow
def test_keras_fits_in_a_worker_thread_are_the_ones_a_single_worker_makes(few_snapshots):
    config = {"candidates": ("logistic_regression", "keras_mlp"), "use_btyd": False,
              "score_all_candidates": True}  # fmt: skip
    one = train_churn_model(few_snapshots, TrainingConfig(**config, fit_workers=1))
    two = train_churn_model(few_snapshots, TrainingConfig(**config, fit_workers=2))
    assert_same_run(one, two)


def test_training_sets_reuse_each_cutoffs_sample_buckets(snapshots):
    # Each cutoff's customer buckets are hashed once and reused by every fit date; the
    # sample must be the one sample_customers draws from the concatenated rows, and it
    # must keep whole customers (every labelled cutoff of a sampled customer).
    split = split_snapshots(snapshots, TrainingConfig())
    fits = OutOfTimeFits(split.frame, split.plan, split.numeric, split.categorical,
                         ["logistic_regression"], 42, max_training_rows=1500)  # fmt: skip
    for origin in split.plan.origins:
        cutoffs = split.plan.labelled_by(origin.date)
        rows = pd.concat([fits.rows(c) for c in cutoffs])
        assert len(rows) > 1500, "the cap must bite for this test to mean anything"
        sampled = fits.training_set(origin.date, "logistic_regression")
        pd.testing.assert_frame_equal(sampled, sample_customers(rows, 1500))
        kept = set(sampled["customer_id"])
        assert len(sampled) == rows["customer_id"].isin(kept).sum()
        assert 0 < len(sampled) < len(rows)


def test_rows_by_cutoff_are_the_groups_a_groupby_makes(snapshots):
    frame = prepare_snapshots(snapshots)
    for rows in (frame, frame.sample(frac=1.0, random_state=3)):  # sorted: slices; else groupby
        expected = {pd.Timestamp(c): part for c, part in rows.groupby("cutoff_date")}
        got = rows_by_cutoff(rows)
        assert list(got) == list(expected)
        for cutoff, part in expected.items():
            pd.testing.assert_frame_equal(got[cutoff], part)
    assert rows_by_cutoff(frame.iloc[:0]) == {}
