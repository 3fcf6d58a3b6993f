"""Segment runs on disk, next to the churn registry (never in git).

Layout under `<artifact root>/segments/` (artifact_root(): one per database):

    runs/<run_id>/run.json            the run record: settings, features and transform,
                                      silhouette per k, chosen k, Ward comparison,
                                      matching with the previous run, names, centroids
    runs/<run_id>/centroids.parquet   centroids in original feature units (the next run
                                      matches against these)
    runs/<run_id>/profiles.parquet    one row per segment (segment_profiles)
    latest.json                       {"run_id": ...}: the run the next one builds on

run_id derives from the data and settings, so a rerun on the same input
rewrites the same folder; it is matched against the run before it, not
against itself, so reruns are idempotent. Files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from retention.churn.registry import _atomic_write, artifact_root
from retention.segments.model import SegmentRun


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _clean(value):
    """NaN is not JSON: store it as null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class SegmentStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else artifact_root() / "segments"

    def _folder(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def save(self, run: SegmentRun, profiles: pd.DataFrame) -> Path:
        folder = self._folder(run.run_id)
        record = _clean(run.to_dict())
        _atomic_write(folder / "centroids.parquet", run.centroids_frame().to_parquet)
        _atomic_write(folder / "profiles.parquet", profiles.to_parquet)
        _atomic_write(
            folder / "run.json",
            lambda p: p.write_text(json.dumps(record, default=_json_default, indent=1)),
        )
        _atomic_write(
            self.root / "latest.json",
            lambda p: p.write_text(json.dumps({"run_id": run.run_id})),
        )
        return folder

    def latest_run_id(self) -> str | None:
        pointer = self.root / "latest.json"
        if not pointer.is_file():
            return None
        run_id = json.loads(pointer.read_text())["run_id"]
        return run_id if (self._folder(run_id) / "run.json").is_file() else None

    def exists(self, run_id: str | None) -> bool:
        return bool(run_id) and (self._folder(run_id) / "run.json").is_file()

    def load(self, run_id: str) -> SegmentRun:
        data = json.loads((self._folder(run_id) / "run.json").read_text())
        # JSON null back to NaN in the numeric per-role dicts.
        for key in ("percentiles", "member_means"):
            data[key] = [{r: np.nan if v is None else v for r, v in d.items()} for d in data[key]]
        data["population_means"] = {
            r: np.nan if v is None else v for r, v in data["population_means"].items()
        }
        data["silhouettes"] = {k: -1.0 if v is None else v for k, v in data["silhouettes"].items()}
        return SegmentRun.from_dict(data)

    def load_profiles(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self._folder(run_id) / "profiles.parquet")

    def previous_for(self, run_id: str) -> SegmentRun | None:
        """The run a new run `run_id` should build on: the latest one, or, when
        `run_id` is the latest (a rerun), the one that run built on."""
        latest = self.latest_run_id()
        if latest is None:
            return None
        if latest != run_id:
            return self.load(latest)
        record = json.loads((self._folder(latest) / "run.json").read_text())
        previous = record.get("previous_run_id")
        return self.load(previous) if self.exists(previous) else None
