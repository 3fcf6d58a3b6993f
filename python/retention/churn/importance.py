"""Global feature importance: permutation importance on out-of-time validation rows.

For the chosen recipe, as fitted for the latest validation origin (so the rows
it is measured on were never trained on), the importance of a feature is how
much the validation log loss rises when that feature's values are shuffled
across customers; a family's, when all of the family's features are shuffled
together (one permutation of rows for the whole block, so the features keep
their joint distribution). scikit-learn's `permutation_importance` permutes
one column at a time; families need the grouped permutation, so both are
done here by one loop. Mean and standard deviation over `repeats` shuffles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention.churn import metrics
from retention.churn.model import ChurnModel
from retention.churn.scoring import feature_family

COLUMNS = ["scope", "feature", "family", "importance", "importance_std", "rows", "repeats"]


def permutation_importance(
    model: ChurnModel,
    rows: pd.DataFrame,
    y: np.ndarray,
    repeats: int = 3,
    max_rows: int = 5000,
    seed: int = 42,
) -> pd.DataFrame:
    """One row per feature (scope 'feature') and per family (scope 'family'):
    the mean increase in log loss when it is shuffled (positive = the model uses it)."""
    rng = np.random.default_rng(seed)
    if len(rows) > max_rows:
        keep = np.sort(rng.choice(len(rows), size=max_rows, replace=False))
        rows, y = rows.iloc[keep], y[keep]
    rows = rows.reset_index(drop=True)
    base = metrics.probability_metrics(y, model.predict(rows))["log_loss"]
    groups: list[tuple[str, str, str, list[str]]] = [
        ("feature", f, feature_family(f), [f]) for f in model.features
    ]
    families: dict[str, list[str]] = {}
    for feature in model.features:
        families.setdefault(feature_family(feature), []).append(feature)
    groups += [("family", family, family, columns) for family, columns in families.items()]
    out = []
    for scope, name, family, columns in groups:
        rises = []
        for _ in range(repeats):
            shuffled = rows.copy()
            order = rng.permutation(len(rows))
            shuffled[columns] = rows[columns].to_numpy()[order]
            loss = metrics.probability_metrics(y, model.predict(shuffled))["log_loss"]
            rises.append(loss - base)
        out.append(
            {
                "scope": scope,
                "feature": name,
                "family": family,
                "importance": float(np.mean(rises)),
                "importance_std": float(np.std(rises)),
                "rows": len(rows),
                "repeats": repeats,
            }
        )
    return pd.DataFrame(out, columns=COLUMNS)
