"""Cost of training and scoring the churn model on a large snapshot table.

Reads marts.fct_customer_snapshots from a built warehouse (e.g. the one
benchmarks/scale.py leaves in data/scale/<N>_full/scale.duckdb), then runs
the same functions the dbt Python models call: training (with the
churn_max_training_rows customer sample) and scoring of every as-of customer
with reasons. Prints seconds per stage, the process's peak RSS, and for each
stage its CPU seconds, the cores it kept busy on average (CPU / wall) and the
CPU of each group of threads (retention.thread_cpu: the fit workers, TensorFlow's
compute threads, ...).

Usage: python benchmarks/ml_scale.py data/scale/1000000_full/scale.duckdb [--max-training-rows N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import duckdb

from retention.churn.pipeline import run_scoring, run_training
from retention.churn.registry import Registry
from retention.thread_cpu import ThreadCpu


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def cpu_figures(figures: dict, stage: str, cpu: ThreadCpu) -> None:
    """A stage's CPU seconds, the cores it kept busy on average, and its threads' shares."""
    figures[f"{stage}_cpu_seconds"] = round(cpu.total(), 1)
    figures[f"{stage}_cores_busy"] = round(cpu.total() / figures[f"{stage}_seconds"], 2)
    figures[f"{stage}_thread_cpu_seconds"] = cpu.by_group()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--max-training-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    for noisy in ("pymc", "pytensor", "arviz"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    figures = {}
    started = time.perf_counter()
    with duckdb.connect(str(args.database), read_only=True) as con:
        snapshots = con.sql("select * from marts.fct_customer_snapshots").df()
    figures["load_seconds"] = time.perf_counter() - started
    figures["snapshot_rows"] = len(snapshots)
    figures["scoring_rows"] = int(snapshots["is_scoring_cutoff"].sum())
    figures["rss_after_load_gb"] = peak_rss_gb()
    settings = {"max_training_rows": args.max_training_rows}
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp))
        t = time.perf_counter()
        with ThreadCpu() as cpu:
            runs = run_training(snapshots, settings, registry)
        figures["training_seconds"] = time.perf_counter() - t
        cpu_figures(figures, "training", cpu)
        figures["rss_after_training_gb"] = peak_rss_gb()
        run = runs.iloc[-1]
        figures["chosen_model"] = run["chosen_model"]
        figures["training_rows"] = int(run["training_rows"])
        figures["validation_metrics"] = json.loads(run["metrics"])
        t = time.perf_counter()
        with ThreadCpu() as cpu:
            scores = run_scoring(snapshots, settings, registry)
        figures["scoring_seconds"] = time.perf_counter() - t
        cpu_figures(figures, "scoring", cpu)
        figures["scored_customers"] = len(scores)
    figures["peak_rss_gb"] = peak_rss_gb()
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
