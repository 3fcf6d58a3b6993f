"""The candidates' speed-ups change how fast they run, never what they predict.

- Tree ensembles predict in cache-sized row blocks (candidates.TREE_PREDICT_ROWS).
- The Keras network runs many batches per TensorFlow call (steps_per_execution), and its
  early stopping reads the held-out loss from one direct call instead of `evaluate`.
- The numeric imputer takes each column's median with np.median (candidates.column_median)
  instead of SimpleImputer's masked-array sort.
- TensorFlow's thread pools follow the calling thread's BLAS/OpenMP limit
  (candidates.import_keras) instead of the machine's core count.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer

from retention.churn import candidates
from retention.churn.candidates import (
    GradientBoostingChurn,
    KerasMLPClassifier,
    RandomForestChurn,
    build_candidate,
    column_median,
)


def rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12))
    X[rng.random(X.shape) < 0.05] = np.nan  # the trees route missing values too
    y = (np.nan_to_num(X[:, 0]) + rng.normal(size=n) > 0).astype(int)
    return X, y


@pytest.mark.parametrize(
    ("blocked", "plain", "params"),
    [
        (GradientBoostingChurn, HistGradientBoostingClassifier, {"max_iter": 30}),
        (RandomForestChurn, RandomForestClassifier, {"n_estimators": 10, "min_samples_leaf": 5}),
    ],
)
def test_tree_predictions_in_blocks_are_the_same_bit_for_bit(blocked, plain, params, monkeypatch):
    monkeypatch.setattr(candidates, "TREE_PREDICT_ROWS", 1000)  # several blocks, a partial last
    X, y = rows(3500)
    if plain is RandomForestClassifier:  # the forest does not route NaN in every version
        X = np.nan_to_num(X)
    ours = blocked(random_state=1, **params).fit(X, y)
    reference = plain(random_state=1, **params).fit(X, y)
    assert np.array_equal(ours.predict_proba(X), reference.predict_proba(X))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    assert np.array_equal(
        blocked(random_state=1, **params).fit(frame, y).predict_proba(frame),
        reference.predict_proba(X),
    )


def test_the_shipped_gradient_boosting_predicts_in_blocks():
    pipeline = build_candidate("hist_gradient_boosting", ["a"], [])
    assert isinstance(pipeline[-1], GradientBoostingChurn)


def keras_predictions(steps_per_execution: int) -> np.ndarray:
    X, y = rows(4000, seed=3)
    X = np.nan_to_num(X)
    model = KerasMLPClassifier(epochs=4, batch_size=256, steps_per_execution=steps_per_execution)
    return model.fit(X, y).predict_proba(X)[:, 1]


def test_keras_batches_per_call_change_nothing():
    # 4,000 rows, 15% held out for early stopping: 14 batches per epoch, so 4 per call leaves
    # a partial last call, and 256 runs the whole epoch in one.
    one = keras_predictions(1)
    assert np.array_equal(one, keras_predictions(4))
    assert np.array_equal(one, keras_predictions(256))


def test_a_keras_model_pickled_before_the_parameter_still_loads():
    X, y = rows(600, seed=5)
    model = KerasMLPClassifier(epochs=1).fit(np.nan_to_num(X), y)
    state = model.__getstate__()
    del state["steps_per_execution"]
    old = KerasMLPClassifier.__new__(KerasMLPClassifier)
    old.__setstate__(state)
    assert old.get_params()["steps_per_execution"] == 1
    again = pickle.loads(pickle.dumps(old))
    assert np.array_equal(
        again.predict_proba(np.nan_to_num(X)), model.predict_proba(np.nan_to_num(X))
    )


def test_keras_early_stopping_reads_the_loss_keras_evaluates():
    # The held-out loss each epoch comes from candidates._validation_loss, not Model.evaluate:
    # the restored weights (the best epoch's) must give that epoch's loss under evaluate too,
    # and early stopping must have stopped on it (patience 1 over many epochs).
    X, y = rows(3000, seed=7)
    X = np.nan_to_num(X).astype("float32")
    model = KerasMLPClassifier(epochs=60, patience=1, learning_rate=0.05).fit(X, y)
    history = model.model_.history.history["val_loss"]
    assert model.epochs_run_ == len(history) < 60, "early stopping never stopped"
    n_val = int(len(X) * model.validation_fraction)
    evaluated = model.model_.evaluate(X[-n_val:], y[-n_val:].astype("float32"), verbose=0)
    assert evaluated == pytest.approx(min(history), rel=1e-5)


def imputer_cases():
    rng = np.random.default_rng(11)
    for n in (1, 2, 7, 8, 501, 2000):  # odd and even counts of present values
        X = rng.normal(size=(n, 6))
        X[rng.random(X.shape) < 0.3] = np.nan
        X[:, 1] = np.round(X[:, 1] * 2) / 3  # ties (NaN stays NaN)
        X[:, 2] = np.nan  # a column with no value: dropped, as the built-in median drops it
        # Large values: both sum the middle two and halve. (Above ~9e307 the built-in overflows
        # to inf even for an odd count, as it adds the middle value to itself; np.median not.)
        X[:, 3] = 1e300 * np.sign(X[:, 3])
        yield X


@pytest.mark.parametrize("X", list(imputer_cases()), ids=lambda X: f"{X.shape[0]}_rows")
def test_column_median_imputes_exactly_as_the_built_in_median(X):
    built_in = SimpleImputer(strategy="median", add_indicator=True).fit(X)
    ours = SimpleImputer(strategy=column_median, add_indicator=True).fit(X)
    assert np.array_equal(ours.statistics_, built_in.statistics_, equal_nan=True)
    assert np.array_equal(ours.transform(X), built_in.transform(X))


def test_the_candidates_impute_with_column_median_and_pickle():
    pipeline = build_candidate("logistic_regression", ["a", "b"], [])
    X, y = rows(400, seed=2)
    frame = pd.DataFrame(X[:, :2], columns=["a", "b"])
    pipeline.fit(frame, y)
    imputer = pipeline.named_steps["prepare"].named_transformers_["numeric"][0]
    assert imputer.strategy is column_median
    again = pickle.loads(pickle.dumps(pipeline))
    assert np.array_equal(again.predict_proba(frame), pipeline.predict_proba(frame))


# Fits the network in a new process (TensorFlow's pools are sized once per process) under a
# thread limit, and prints the pools' sizes and a digest of the weights.
FIT_UNDER_A_LIMIT = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np
    from threadpoolctl import threadpool_limits
    from retention.churn.candidates import KerasMLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 12)).astype("float32")
    y = (X[:, 0] + rng.normal(size=4000) > 0).astype("float32")
    with threadpool_limits(limits=int(sys.argv[1])):
        model = KerasMLPClassifier(epochs=3).fit(X, y)
    import tensorflow as tf

    weights = np.concatenate([w.ravel() for w in model.model_.get_weights()])
    print(
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
        hashlib.sha256(weights.tobytes()).hexdigest(),
    )
    """
)


def fit_in_a_new_process(threads: int) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", FIT_UNDER_A_LIMIT, str(threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_tensorflow_threads_follow_the_calling_threads_limit_and_change_no_weight():
    one = fit_in_a_new_process(1)
    two = fit_in_a_new_process(2)
    assert one[:2] == ["1", "1"]
    assert two[:2] == ["2", "2"]
    assert one[2] == two[2]  # the same weights, bit for bit
