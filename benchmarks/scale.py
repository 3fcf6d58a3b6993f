"""Scale benchmark: generate N customers, build the SQL layers, time each layer.

For each size it records (one run each; repeat the command for medians):
  - data generation time (not part of the build);
  - the floor: one DuckDB scan of the raw events Parquet that aggregates
    events, sessions and days per customer (in a fresh process);
  - `dbt build` of everything up to fct_customer_snapshots (staging,
    intermediate, the snapshot mart; data tests included), wall time in total
    and per layer (from dbt's run_results.json);
  - peak RSS of the dbt process, and the largest size DuckDB's temp
    (spill) directory reached;
  - the ratio build / floor, and feature layer (intermediate + snapshots) / floor.

Usage: python benchmarks/scale.py --customers 10000 100000 [--memory-limit 8GB]
Data is cached under data/scale/<N>/ (gitignored). Results: benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from retention.dbt_runner import REPO_ROOT, query, run_dbt

FLOOR_SQL = """
select customer_id, count(*) as events, count(distinct session_id) as sessions,
       count(distinct cast(event_at as date)) as days
from read_parquet('{path}/events/*.parquet')
group by customer_id
"""
SPINE = [
    "build", "--select", "+fct_customer_snapshots", "--exclude", "test_type:unit",
    "--indirect-selection", "cautious",
]  # fmt: skip


def generate(customers: int, folder: Path) -> float:
    if (folder / "events").is_dir():
        return float("nan")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "retention.cli", "generate", "--customers", str(customers),
         "--seed", "1", "--out", str(folder), "--format", "parquet", "--quiet"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def floor_seconds(folder: Path, memory_limit: str) -> float:
    code = (
        "import duckdb, time, sys\n"
        f"con = duckdb.connect(config={{'memory_limit': '{memory_limit}'}})\n"
        "con.execute('set enable_progress_bar = false')\n"
        "t = time.perf_counter()\n"
        f"con.sql({FLOOR_SQL.format(path=folder)!r}).fetchall()\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def watch_size(folder: Path, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        size = (
            sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            if folder.exists()
            else 0
        )
        peak[0] = max(peak[0], size)
        stop.wait(0.5)


LAYER_PREFIXES = {"base_": "staging", "stg_": "staging", "int_": "intermediate",
                  "fct_": "marts", "dim_": "marts", "ml_": "ml"}  # fmt: skip


def layer_times(work: Path) -> dict[str, float]:
    """Seconds per layer (by model name prefix) and for data tests, from run_results.json."""
    results = json.loads((work / "target" / "run_results.json").read_text())
    layers: dict[str, float] = defaultdict(float)
    for node in results["results"]:
        kind, name = node["unique_id"].split(".")[0], node["unique_id"].split(".")[-1]
        if kind == "test":
            layers["tests"] += node["execution_time"]
        elif kind == "model":
            layer = next((v for k, v in LAYER_PREFIXES.items() if name.startswith(k)), "other")
            layers[layer] += node["execution_time"]
    return dict(layers)


def run_size(customers: int, memory_limit: str) -> dict:
    folder = REPO_ROOT / "data" / "scale" / str(customers)
    generation = generate(customers, folder)
    work = REPO_ROOT / "data" / "scale" / f"{customers}_build"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "scale.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    spill_dir = work / "scale.duckdb.tmp"  # DuckDB's default temp directory for this file
    floor = floor_seconds(folder, memory_limit)
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=watch_size, args=(spill_dir, stop, peak), daemon=True)
    watcher.start()
    rss_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    run_dbt(
        SPINE, db, work_dir=work, dbt_vars={"raw_path": str(folder)}, timeout=3 * 3600,
        env={"RETENTION_DUCKDB_MEMORY_LIMIT": memory_limit},
    )  # fmt: skip
    build = time.perf_counter() - started
    stop.set()
    watcher.join()
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    [(events,)] = query(db, "select count(*) from staging.stg_shop__events")
    [(snapshots, cutoffs)] = query(
        db, "select count(*), count(distinct cutoff_date) from marts.fct_customer_snapshots"
    )
    layers = layer_times(work)
    feature_layer = layers.get("intermediate", 0.0) + layers.get("marts", 0.0)
    return {
        "customers": customers,
        "clean_events": events,
        "snapshot_rows": snapshots,
        "cutoffs": cutoffs,
        "generation_seconds": generation,
        "floor_scan_seconds": floor,
        "build_seconds": build,
        "layer_seconds": layers,
        "build_over_floor": build / floor,
        "feature_layer_over_floor": feature_layer / floor,
        # ru_maxrss of children is the largest child so far (KiB); the dbt run is the largest.
        "peak_rss_gb": max(rss, rss_before) / 1024 / 1024,
        "peak_spill_gb": peak[0] / 1024**3,
        "memory_limit": memory_limit,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--memory-limit", default=os.environ.get("RETENTION_DUCKDB_MEMORY_LIMIT", "8GB")
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/results/scale.json")
    args = parser.parse_args(argv)
    results = []
    for customers in args.customers:
        result = run_size(customers, args.memory_limit)
        print(json.dumps(result), flush=True)
        results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
