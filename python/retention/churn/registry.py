"""The model registry on disk: artefacts, run history, champion pointer, score history.

Layout under the artefact root (default `<RETENTION_HOME>/artifacts/<database name>`, one
registry per warehouse file; never in git):

    models/<model_version>/model.joblib      the ChurnModel (pipeline + calibrator)
    models/<model_version>/run.json          the registry row
    models/<model_version>/evaluation.parquet, curves.parquet, origins.parquet
                                             every recipe's validation metrics (means over
                                             the origins; per origin), and their curves
    models/<model_version>/importance.parquet
                                             permutation importance per feature and family
    models/<model_version>/validation_predictions.parquet
                                             the chosen recipe's out-of-time predictions
                                             at every validation origin (the backtest)
    models/<model_version>/as_of_predictions.parquet
                                             the shipped model's scores at as_of_date (and
                                             every learner's best, with score_all_candidates)
    champion.json                            {"model_version": ...}
    scores/as_of_date=<YYYY-MM-DD>.parquet   one file per scoring date

Everything is keyed by content (model_version derives from the data
fingerprint and config), so a rerun on the same input overwrites the same
files: reruns are idempotent, and the history keeps one entry per version and
scoring date. Files are written to a temporary name and renamed, so a killed
build never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import pandas as pd

from retention.churn.model import ChurnModel

if TYPE_CHECKING:  # the registry stores runs; it does not need the training code to load
    from retention.churn.training import TrainingResult


def artifact_root() -> Path:
    configured = os.environ.get("RETENTION_ARTIFACTS")
    if configured:
        return Path(configured)
    database = Path(os.environ.get("RETENTION_DB", "retention.duckdb")).stem
    return Path(os.environ.get("RETENTION_HOME", Path.cwd())) / "artifacts" / database


BACKTEST_COLUMNS = [
    "customer_id",
    "cutoff_date",
    "model_version",
    "model_name",
    "churn_probability",
]


def backtest_frame(result: TrainingResult) -> pd.DataFrame:
    """The chosen recipe's predictions at every validation origin: each was made exactly as
    the recipe ships, from models and calibrations fitted on labels known by that origin."""
    predictions = result.validation_predictions
    return pd.DataFrame(
        {
            "customer_id": predictions["customer_id"].astype(str),
            "cutoff_date": pd.to_datetime(predictions["cutoff_date"]),
            "model_version": result.model_version,
            "model_name": result.run["chosen_model"],
            "churn_probability": predictions["churn_probability"].astype(float),
        }
    )[BACKTEST_COLUMNS]


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a failed write leaves no stray temporary file


def _json_default(value):
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


class Registry:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else artifact_root()

    # ---------- runs
    def save_run(self, result: TrainingResult) -> Path:
        folder = self.root / "models" / result.model_version
        _atomic_write(folder / "model.joblib", lambda p: joblib.dump(result.challenger, p))
        _atomic_write(folder / "evaluation.parquet", result.evaluation.to_parquet)
        _atomic_write(folder / "curves.parquet", result.curves.to_parquet)
        _atomic_write(folder / "origins.parquet", result.origin_evaluation.to_parquet)
        _atomic_write(folder / "importance.parquet", result.importance.to_parquet)
        _atomic_write(folder / "as_of_predictions.parquet", result.as_of_predictions.to_parquet)
        _atomic_write(
            folder / "validation_predictions.parquet",
            backtest_frame(result).to_parquet,
        )
        run = dict(result.run, artifact_path=str(folder))
        _atomic_write(
            folder / "run.json",
            lambda p: p.write_text(json.dumps(run, default=_json_default, indent=1)),
        )
        return folder

    def run(self, model_version: str) -> dict | None:
        """The stored registry row of one version, as written (None if unknown)."""
        path = self.root / "models" / model_version / "run.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def runs(self) -> pd.DataFrame:
        rows = [
            json.loads(p.read_text()) for p in sorted((self.root / "models").glob("*/run.json"))
        ]
        frame = pd.DataFrame(rows)
        for column in ("trained_at", "as_of_date", "validation_cutoff"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column])
        return frame.sort_values("trained_at").reset_index(drop=True) if rows else frame

    def evaluation(self, model_version: str) -> pd.DataFrame:
        return self.table(model_version, "evaluation")

    def curves(self, model_version: str) -> pd.DataFrame:
        return self.table(model_version, "curves")

    def table(self, model_version: str, name: str) -> pd.DataFrame:
        """One of a run's stored tables (evaluation, curves, origins, importance,
        as_of_predictions); empty for runs stored before it was kept."""
        path = self.root / "models" / model_version / f"{name}.parquet"
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()

    def backtest_predictions(self) -> pd.DataFrame:
        """Every run's out-of-time validation predictions (runs saved before they were
        kept have none), with the run's trained_at."""
        runs = self.runs()
        parts = []
        for version, trained_at in zip(
            runs.get("model_version", []), runs.get("trained_at", []), strict=True
        ):
            path = self.root / "models" / version / "validation_predictions.parquet"
            if path.is_file():
                parts.append(pd.read_parquet(path).assign(trained_at=trained_at))
        if not parts:
            return pd.DataFrame(columns=[*BACKTEST_COLUMNS, "trained_at"])
        return pd.concat(parts, ignore_index=True)

    # ---------- champion
    def champion_version(self) -> str | None:
        pointer = self.root / "champion.json"
        if not pointer.is_file():
            return None
        version = json.loads(pointer.read_text())["model_version"]
        return version if (self.root / "models" / version / "model.joblib").is_file() else None

    def load_model(self, model_version: str) -> ChurnModel:
        return joblib.load(self.root / "models" / model_version / "model.joblib")

    def load_champion(self) -> tuple[str | None, ChurnModel | None, str | None]:
        """(version, model, why it could not be loaded). A champion saved by an older
        package version may no longer load; the run then goes on without one."""
        version = self.champion_version()
        if version is None:
            return None, None, None
        try:
            return version, self.load_model(version), None
        except (AttributeError, ImportError, ModuleNotFoundError, TypeError, ValueError) as error:
            return version, None, f"champion {version} cannot be loaded ({error})"

    def set_champion(self, model_version: str) -> None:
        _atomic_write(
            self.root / "champion.json",
            lambda p: p.write_text(json.dumps({"model_version": model_version})),
        )

    # ---------- scores
    def save_scores(self, scores: pd.DataFrame) -> None:
        for as_of, part in scores.groupby("as_of_date"):
            name = f"as_of_date={pd.Timestamp(as_of).date()}.parquet"
            _atomic_write(self.root / "scores" / name, part.to_parquet)

    def score_history(self) -> pd.DataFrame:
        files = sorted((self.root / "scores").glob("as_of_date=*.parquet"))
        if not files:
            return pd.DataFrame()
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
