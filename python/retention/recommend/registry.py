"""The per-build record of the recommender choice, on disk next to the churn registry.

Layout under ``<artifact root>/recommendations/`` (the artifact root is the churn registry's,
``artifacts/<database name>`` by default; never in git):

    runs/<run_id>/run.json            the chosen recommender, the mix, the cutoffs and their
                                      roles, the held-out comparison, the data fingerprint
    runs/<run_id>/evaluation.parquet  the rows of fct_recommendation_evaluation
    latest.json                       {"run_id": ...} of the last build

``run_id`` derives from the purchase log's fingerprint, as_of_date, the config and the
package version, so a rebuild on the same data rewrites the same record (and keeps the
time it was first written): reruns are idempotent. Files are written to a temporary name
and renamed, so a killed build never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from retention import __version__


def recommendation_root() -> Path:
    from retention.churn.registry import artifact_root

    return artifact_root() / "recommendations"


def run_id_for(fingerprint: str, as_of: str, config: dict) -> str:
    payload = json.dumps(
        {"data": fingerprint, "as_of": as_of, "config": config, "package": __version__},
        sort_keys=True,
    )
    return "rec-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


class RecommendationRegistry:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else recommendation_root()

    def run(self, run_id: str) -> dict | None:
        path = self.root / "runs" / run_id / "run.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def save(self, record: dict, evaluation: pd.DataFrame) -> Path:
        from retention.churn.registry import _atomic_write  # the churn registry's safe write

        folder = self.root / "runs" / record["run_id"]
        first = self.run(record["run_id"])
        if first is not None:  # a rerun on the same data: keep when it was first recorded
            record = {**record, "recorded_at": first.get("recorded_at", record["recorded_at"])}
        _atomic_write(folder / "evaluation.parquet", evaluation.to_parquet)
        _atomic_write(
            folder / "run.json", lambda p: p.write_text(json.dumps(record, indent=1, default=str))
        )
        _atomic_write(
            self.root / "latest.json",
            lambda p: p.write_text(json.dumps({"run_id": record["run_id"]})),
        )
        return folder

    def latest(self) -> dict | None:
        path = self.root / "latest.json"
        if not path.is_file():
            return None
        return self.run(json.loads(path.read_text())["run_id"])
