"""Cost of one fit of the churn network (candidates.KerasMLPClassifier), at several sizes.

Fits the network as training does (its defaults, early stopping on the last 15% of the rows)
on generated rows, `--runs` times per size, in one process after a warm-up fit (TensorFlow's
import and first tracing are paid once, as in a build's first network fit). Prints, per size,
the epochs run, the median fit seconds and seconds per epoch, and a checksum of the
predictions, so that two trees can be compared (same checksum = the same network):

    python benchmarks/keras_fit.py
    PYTHONPATH=<other tree>/python python benchmarks/keras_fit.py

Usage: python benchmarks/keras_fit.py [--sizes 2000 20000 100000] [--runs 3] [--features 30]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from retention.churn.candidates import KerasMLPClassifier


def rows(n: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    signal = X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + rng.normal(size=n)
    return X, (signal > 0.8).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--features", type=int, default=30)
    args = parser.parse_args()
    KerasMLPClassifier().fit(*rows(500, args.features, seed=0))  # import and first tracing
    print("rows     epochs  fit_s_median  s_per_epoch  predictions_sha1")
    for n in args.sizes:
        X, y = rows(n, args.features, seed=1)
        seconds, model = [], None
        for _ in range(args.runs):
            started = time.perf_counter()
            model = KerasMLPClassifier().fit(X, y)
            seconds.append(time.perf_counter() - started)
        median = statistics.median(seconds)
        digest = hashlib.sha1(model.predict_proba(X[:5000])[:, 1].tobytes()).hexdigest()[:12]
        print(
            f"{n:<8} {model.epochs_run_:>6}  {median:>12.2f}  {median / model.epochs_run_:>11.3f}"
            f"  {digest}",
            flush=True,
        )


if __name__ == "__main__":
    main()
