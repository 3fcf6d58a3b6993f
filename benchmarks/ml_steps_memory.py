"""Seconds and peak RSS of one scoring-side ML step on a built warehouse, in this process.

Runs what the dbt Python model runs, on marts.fct_customer_snapshots of a warehouse built
at scale (benchmarks/scale.py, or the SQL spine of `dbt build`):

- ``--read relation``: the step is given the DuckDB relation, as the models pass it now,
  and reads only its rows and columns (retention.churn.reads);
- ``--read table``: the step is given ``.df()`` of the whole table (monitoring: of its
  columns), as the models did before issue 16 (this also runs against older checkouts of
  the package).

Steps: ``scoring`` (needs a champion: ``--registry``, e.g. artifacts/<db> of a build that
ran ml_churn_training; it is copied, so the build's score history is left alone),
``customer_value``, ``monitoring`` (feature drift only) and ``segments``. Run each step in a fresh
process: the peak RSS is the process's. ``--out`` writes the step's output to Parquet, to
compare two runs.

Usage: python benchmarks/ml_steps_memory.py s100k.duckdb --step scoring --read relation \
    --registry artifacts/s100k --out /tmp/scores.parquet
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import duckdb
import pandas as pd

from retention.churn import pipeline
from retention.churn.registry import Registry

SETTINGS = {"churn_horizon_days": "90", "clv_horizon_days": "365"}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def run_step(step: str, snapshots, registry_dir: Path | None, batch_rows=None) -> pd.DataFrame:
    if step == "customer_value":
        return pipeline.run_customer_value(snapshots, SETTINGS)
    if step == "monitoring":
        columns = ["source", "customer_id", "scoring_date", "model_version"]
        columns += ["churn_probability", "horizon_end_date", "is_matured", "is_churned"]
        outcomes = pd.DataFrame(columns=columns)
        return pipeline.run_monitoring(outcomes, snapshots, Registry(registry_dir))
    if step == "segments":
        return segments(snapshots, registry_dir)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "registry"
        shutil.copytree(registry_dir, copy, ignore=shutil.ignore_patterns("scores"))
        extra = {"batch_rows": batch_rows} if batch_rows else {}
        return pipeline.run_scoring(snapshots, SETTINGS, Registry(copy), **extra)


def segments(warehouse, store_dir: Path | None) -> pd.DataFrame:
    """ml_customer_segments. ``warehouse``: (connection, read_all); read_all is the model's
    read before issue 16, every column of the two flagged cutoffs."""
    from retention.definitions import label_horizon_days
    from retention.segments import SegmentStore, run_segmentation

    con, read_all = warehouse
    relation = con.table("marts.fct_customer_snapshots")
    cutoffs = con.table("intermediate.int_cutoffs_generated")
    if read_all:
        spine = cutoffs.filter("is_scoring_cutoff or is_latest_mature_cutoff")
        spine = spine.project("cutoff_date, is_latest_mature_cutoff")
        rows = relation.join(spine, "cutoff_date").df()
    else:
        from retention.segments import segmentation_rows

        rows = segmentation_rows(relation, cutoffs)
    settings = {"horizon_days": label_horizon_days(cutoffs.df())}
    with tempfile.TemporaryDirectory() as tmp:
        return run_segmentation(rows, None, settings, SegmentStore(Path(tmp)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--step", choices=["scoring", "customer_value", "monitoring", "segments"])
    parser.add_argument("--read", choices=["relation", "table"], default="relation")
    parser.add_argument("--registry", type=Path, help="the champion's registry (scoring)")
    parser.add_argument("--out", type=Path, help="write the step's output here (Parquet)")
    parser.add_argument(
        "--batch-rows", type=int, help="scoring batch size (default: the package's)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("pymc", "pytensor", "arviz"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    figures = {"step": args.step, "read": args.read, "rss_before_gb": round(peak_rss_gb(), 3)}
    with duckdb.connect(str(args.database), read_only=True) as con:
        started = time.perf_counter()
        snapshots = con.table("marts.fct_customer_snapshots")
        if args.read == "table" and args.step == "monitoring":
            # the model projected its columns before .df() already
            from retention.churn.monitoring import DRIFT_FEATURES

            features = [c for c in DRIFT_FEATURES if c in snapshots.columns]
            snapshots = snapshots.project(", ".join(["customer_id", "cutoff_date", *features]))
            snapshots = snapshots.df()
        elif args.step == "segments":  # the step reads the relation itself
            snapshots = (con, args.read == "table")
        elif args.read == "table":
            snapshots = snapshots.df()
        output = run_step(args.step, snapshots, args.registry, args.batch_rows)
        figures["seconds"] = round(time.perf_counter() - started, 2)
    figures["rows"] = len(output)
    figures["peak_rss_gb"] = round(peak_rss_gb(), 3)
    if args.out:
        output.to_parquet(args.out)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
