"""Candidate churn classifiers, each a scikit-learn estimator with fixed seeds.

All share one preprocessing recipe, fitted on training rows only (inside the
Pipeline): numeric features are median-imputed with missing indicators (a
missing gap or trend means "not enough history", which is informative),
categoricals are one-hot encoded. Logistic regression and the Keras network
also standardise.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

CANDIDATES = ("logistic_regression", "hist_gradient_boosting", "keras_mlp")
# Off by default (slower, and on our benchmarks never better than the three above); the
# generalization benchmark runs them. Each trains on at most LEARNER_MAX_ROWS rows (a
# deterministic customer sample): k-NN predicts by distance to every training row, and
# the network's epochs grow with its rows.
EXTRA_CANDIDATES = ("knn", "linear_svm", "random_forest")
LEARNER_MAX_ROWS = {
    "keras_mlp": 200_000,
    "knn": 20_000,
    "linear_svm": 50_000,
    "random_forest": 50_000,
}


# Rows per prediction call of a tree ensemble. Each tree walks every row it is given, so
# a large batch streams the whole feature matrix from memory once per tree (300 times for
# gradient boosting); 4,096 rows of ~90 features stay in the CPU cache. Row by row the
# predictions are the same, bit for bit (BENCHMARKS.md, "Scale: the whole build").
TREE_PREDICT_ROWS = 4096


class CacheSizedPredictions:
    """Mixin for a scikit-learn tree ensemble: predict_proba in cache-sized row blocks."""

    def predict_proba(self, X):
        predict, size = super().predict_proba, TREE_PREDICT_ROWS
        if X.shape[0] <= size:
            return predict(X)
        rows = X.iloc if hasattr(X, "iloc") else X
        return np.concatenate([predict(rows[i : i + size]) for i in range(0, X.shape[0], size)])


class GradientBoostingChurn(CacheSizedPredictions, HistGradientBoostingClassifier):
    """HistGradientBoostingClassifier, predicting in cache-sized blocks."""


class RandomForestChurn(CacheSizedPredictions, RandomForestClassifier):
    """RandomForestClassifier, predicting in cache-sized blocks."""


def column_median(values: np.ndarray) -> float:
    """The median of one column's present values (NaN when there are none), for
    SimpleImputer's callable strategy. Its built-in "median" sorts a masked copy of the
    whole matrix; np.median partitions each column instead: the same statistics, bit for
    bit (tests/python/test_churn_candidates_speed.py), in about a fifth of the time (1.2 s
    against 0.2 s on 250,000 rows of 68 columns; every fit pays it). The one difference is
    beyond any feature: above ~9e307 the built-in overflows to inf, this does not."""
    return float(np.median(values)) if values.size else np.nan


def preprocessor(numeric: list[str], categorical: list[str], scale: bool) -> ColumnTransformer:
    numeric_steps = [SimpleImputer(strategy=column_median, add_indicator=True)]
    if scale:
        numeric_steps.append(StandardScaler())
    transformers = [("numeric", make_pipeline(*numeric_steps), numeric)]
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="unknown"),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False),
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


class KerasMLPClassifier(ClassifierMixin, BaseEstimator):
    """A small feed-forward network on tensorflow-cpu, as a scikit-learn classifier.

    Early stopping watches the last `validation_fraction` of the rows *in the
    order given*; callers pass rows sorted by cutoff, so it holds out the most
    recent snapshots instead of a shuffled sample.
    """

    def __init__(
        self,
        hidden_units: tuple[int, ...] = (32, 16),
        dropout: float = 0.1,
        # batches of 1,024 at 2e-3, not 512 at 1e-3: fewer epochs to the same validation loss
        # (BENCHMARKS.md, "Training cost")
        learning_rate: float = 2e-3,
        epochs: int = 30,
        batch_size: int = 1024,
        validation_fraction: float = 0.15,
        patience: int = 3,
        random_state: int = 42,
        steps_per_execution: int = 256,
    ):
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        # Batches per TensorFlow call: the same updates in the same order (the weights are
        # identical, tests/python/test_churn_candidates_speed.py), without one Python round
        # trip per batch of a network this small; about 2x faster per epoch.
        self.steps_per_execution = steps_per_execution

    def fit(self, X, y):
        keras = import_keras()
        keras.utils.set_random_seed(self.random_state)
        try:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        except Exception:  # determinism is best effort across TF builds
            pass
        X = np.asarray(X, dtype="float32")
        y = np.asarray(y, dtype="float32")
        self.classes_ = np.array([0, 1])
        n_val = int(len(X) * self.validation_fraction)
        inputs = keras.Input(shape=(X.shape[1],))
        hidden = inputs
        for units in self.hidden_units:
            hidden = keras.layers.Dense(units, activation="relu")(hidden)
            if self.dropout:
                hidden = keras.layers.Dropout(self.dropout)(hidden)
        outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate),
            loss="binary_crossentropy",
            steps_per_execution=self.steps_per_execution,
        )
        fit_args = {}
        if n_val >= 50:
            validation = _validation_loss(keras, X[-n_val:], y[-n_val:])
            X, y = X[:-n_val], y[:-n_val]
            fit_args["callbacks"] = [
                validation,  # first: early stopping and the history read its val_loss
                keras.callbacks.EarlyStopping(
                    patience=self.patience, restore_best_weights=True, monitor="val_loss"
                ),
            ]
        history = model.fit(
            X,
            y,
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=True,
            verbose=0,
            **fit_args,
        )
        self.model_ = model
        self.epochs_run_ = len(history.history["loss"])
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype="float32")
        # Calling the model directly, batch by batch: Model.predict builds a data pipeline on
        # every call, which dominated the many small predictions of permutation importance.
        p = np.concatenate(
            [
                np.asarray(self.model_(X[i : i + 65536], training=False)).reshape(-1)
                for i in range(0, len(X), 65536)
            ]
            or [np.zeros(0)]
        )
        p = np.clip(p.astype(float), 1e-6, 1 - 1e-6)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def __getstate__(self):
        # Keras models pickle poorly across versions; store weights + config instead.
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_keras_config"] = model.to_json()
            state["_keras_weights"] = model.get_weights()
        return state

    def __setstate__(self, state):
        config = state.pop("_keras_config", None)
        weights = state.pop("_keras_weights", None)
        state.setdefault("steps_per_execution", 1)  # pickled before the parameter existed
        self.__dict__.update(state)
        if config is not None:
            keras = import_keras()
            self.model_ = keras.models.model_from_json(config)
            self.model_.set_weights(weights)


def import_keras():
    """Keras, imported on first use (~10 s and ~400 MB, only when the network runs), with
    TensorFlow's thread pools as large as the calling thread's BLAS/OpenMP limit (in a build,
    RETENTION_ML_THREADS, default 1: retention.churn.pipeline.ml_threads).

    TensorFlow sizes its pools to the machine otherwise, and threadpoolctl does not reach
    them. In a build two fits and other dbt nodes already share the cores; a network fit
    alone spent ~25% more CPU on TensorFlow's default pools for the same wall time, CPU the
    work beside it needs (BENCHMARKS.md, "TensorFlow's threads"). The weights were identical bit for bit with
    one thread and with two (op determinism is on). The pools can be sized only before
    TensorFlow first runs an op, so the first caller in a process decides."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    _size_tensorflow_pools()
    return keras


@functools.cache
def _size_tensorflow_pools() -> None:
    """Once per process: TensorFlow's pools at the calling thread's limit."""
    import tensorflow as tf

    threads = calling_thread_limit()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran an op in this process: its pools stay
        pass


def calling_thread_limit() -> int:
    """The calling thread's BLAS/OpenMP thread limit (what ml_threads set), at least 1."""
    from threadpoolctl import threadpool_info

    return max(1, min((lib["num_threads"] for lib in threadpool_info()), default=1))


def _validation_loss(keras, X: np.ndarray, y: np.ndarray):
    """A callback that puts the held-out rows' loss after each epoch into the epoch's logs as
    `val_loss`, from one direct call of the network. Model.fit's `validation_data` runs
    `evaluate` instead, which builds a data pipeline every epoch: ~0.1 s whatever the rows,
    most of a small fit (BENCHMARKS.md, "The network's early stopping"). The same mean binary
    cross-entropy, so early stopping makes the same choices
    (tests/python/test_churn_candidates_speed.py)."""
    y = y.reshape(-1, 1)

    class ValidationLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            p = self.model(X, training=False)
            loss = keras.ops.mean(keras.losses.binary_crossentropy(y, p))
            logs["val_loss"] = float(keras.ops.convert_to_numpy(loss))

    return ValidationLoss()


def build_candidate(
    name: str, numeric: list[str], categorical: list[str], random_state: int = 42
) -> Pipeline:
    if name == "logistic_regression":
        estimator = LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
        return Pipeline(
            [("prepare", preprocessor(numeric, categorical, True)), ("model", estimator)]
        )
    if name == "hist_gradient_boosting":
        # 150 rounds at a rate of 0.1, not 300 at 0.05: the same validation loss in half the
        # fit time (BENCHMARKS.md, "Training cost").
        estimator = GradientBoostingChurn(
            learning_rate=0.1,
            max_iter=150,
            max_leaf_nodes=15,
            min_samples_leaf=100,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
        return Pipeline(
            [("prepare", preprocessor(numeric, categorical, False)), ("model", estimator)]
        )
    if name == "keras_mlp":
        return Pipeline(
            [
                ("prepare", preprocessor(numeric, categorical, True)),
                ("model", KerasMLPClassifier(random_state=random_state)),
            ]
        )
    if name == "knn":
        # Distance-weighted votes of the 100 nearest training rows, on standardised features.
        estimator = KNeighborsClassifier(n_neighbors=100, weights="distance")
        return Pipeline(
            [("prepare", preprocessor(numeric, categorical, True)), ("model", estimator)]
        )
    if name == "linear_svm":
        # A linear SVM has no probabilities: Platt scaling over 3 folds gives them (the
        # out-of-time calibration of every recipe comes after, as for the others).
        estimator = CalibratedClassifierCV(
            LinearSVC(C=0.1, random_state=random_state), method="sigmoid", cv=3
        )
        return Pipeline(
            [("prepare", preprocessor(numeric, categorical, True)), ("model", estimator)]
        )
    if name == "random_forest":
        estimator = RandomForestChurn(
            n_estimators=100,
            min_samples_leaf=50,
            max_features="sqrt",
            n_jobs=1,
            random_state=random_state,
        )
        return Pipeline(
            [("prepare", preprocessor(numeric, categorical, False)), ("model", estimator)]
        )
    known = CANDIDATES + EXTRA_CANDIDATES
    raise ValueError(f"unknown candidate {name!r}; choose from {known}")


def positive_proba(model, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(frame)[:, 1], dtype=float)
