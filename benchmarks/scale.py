"""Scale benchmark: generate N customers, run `dbt build`, time each node group.

For each size it records (one run each; repeat the command for medians):
  - data generation time (not part of the build; data are cached);
  - the floor: one DuckDB scan of the raw events Parquet that aggregates events,
    sessions and days per customer, in a fresh process, measured in the same run;
  - the build's wall time, and dbt's execution time per node group (staging,
    intermediate, snapshots, churn training, churn scoring, other churn models,
    customer value, segments, recommendations, marts, tests) from run_results.json;
  - the CPU seconds the build used (user + system, dbt and its children): on a machine with
    few cores the build's wall time is bound by its CPU divided by the cores;
  - peak RSS of the dbt process tree (sampled from /proc every 0.5 s), the nodes running
    when it peaked (`peak_rss_nodes`), and the largest size DuckDB's temp (spill) directory
    reached;
  - the ratio of the SQL layers (staging to the snapshot mart) to the floor;
  - the critical path (retention.build_timeline): the chain of nodes that held the build,
    its length, the time between its nodes, and its longest steps.

Modes:
  --full (default): the whole `dbt build`, every model and test, default settings.
  --spine: only `+fct_customer_snapshots` (staging, intermediate, the snapshot mart and
           their data tests), the SQL layers alone.

DuckDB's memory limit is the project's default (half the machine's memory, set by the
dbt plugin) unless --memory-limit is given.

Usage: python benchmarks/scale.py --customers 10000 100000 1000000 [--spine] [--memory-limit 16GB]
Data are cached under data/scale/<N>/ (gitignored). Results: benchmarks/results/scale[_spine].json,
written after each size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from retention import build_timeline
from retention.dbt_runner import REPO_ROOT, query, run_dbt
from retention.thread_cpu import stat_fields

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
FULL = ["build"]

# Node groups, by model name (first match wins); anything else is "marts".
GROUPS = [
    ("staging", ("base_", "stg_")),
    ("intermediate", ("int_",)),
    ("snapshots", ("fct_customer_snapshots",)),
    ("churn training", ("ml_churn_training",)),
    ("churn scoring", ("ml_churn_scores",)),
    ("customer value", ("ml_customer_value",)),
    ("segments", ("ml_customer_segments", "ml_segment_profiles")),
    ("recommendations", ("ml_recommendation_", "ml_product_recommendations")),
    ("other churn models", ("ml_churn_",)),
]
SQL_LAYERS = ("staging", "intermediate", "snapshots")


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


def floor_seconds(folder: Path, memory_limit: str | None) -> float:
    config = f"{{'memory_limit': '{memory_limit}'}}" if memory_limit else "{}"
    code = (
        "import duckdb, time\n"
        f"con = duckdb.connect(config={config})\n"
        "con.execute('set enable_progress_bar = false')\n"
        "t = time.perf_counter()\n"
        f"con.sql({FLOOR_SQL.format(path=folder)!r}).fetchall()\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def descendants_rss_bytes(root: int) -> int:
    """Resident memory of all descendants of ``root`` (not root itself), from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            _, fields = stat_fields((entry / "stat").read_text())
        except OSError:
            continue
        pid = int(entry.name)
        children[int(fields[1])].append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def folder_bytes(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def watch(spill_dir: Path, stop: threading.Event, peaks: dict) -> None:
    """Track the peak spill size and the peak RSS of this process's children, and when the
    RSS peaked (to name the nodes running then: build_timeline.running_at)."""
    me = os.getpid()
    while not stop.is_set():
        peaks["spill"] = max(peaks["spill"], folder_bytes(spill_dir))
        rss = descendants_rss_bytes(me)
        if rss > peaks["rss"]:
            peaks["rss"], peaks["rss_at"] = rss, dt.datetime.now(dt.UTC)
        stop.wait(0.5)


def group_of(name: str) -> str:
    return next((g for g, prefixes in GROUPS if name.startswith(prefixes)), "marts")


def group_times(results: dict) -> dict[str, float]:
    """dbt's execution seconds per node group, from run_results.json."""
    groups: dict[str, float] = defaultdict(float)
    for node in results["results"]:
        kind, name = node["unique_id"].split(".")[0], node["unique_id"].split(".")[-1]
        if kind in ("test", "unit_test"):
            groups["tests"] += node["execution_time"]
        elif kind == "model":
            groups[group_of(name)] += node["execution_time"]
    return {group: round(seconds, 2) for group, seconds in groups.items()}


def build(folder: Path, work: Path, args: list[str], memory_limit: str | None) -> dict:
    db = work / "scale.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    stop, peaks = threading.Event(), {"spill": 0, "rss": 0, "rss_at": None}
    watcher = threading.Thread(
        target=watch, args=(work / "scale.duckdb.tmp", stop, peaks), daemon=True
    )
    watcher.start()
    # A first build, as a new user runs it: no champion from an earlier run or another size.
    artifacts = work / "artifacts"
    shutil.rmtree(artifacts, ignore_errors=True)
    env = {"RETENTION_ARTIFACTS": str(artifacts)}
    if memory_limit:
        env["RETENTION_DUCKDB_MEMORY_LIMIT"] = memory_limit
    started, cpu_before = time.perf_counter(), os.times()
    try:
        run_dbt(args, db, work_dir=work, dbt_vars={"raw_path": str(folder)}, timeout=3 * 3600,
                env=env)  # fmt: skip
    finally:
        stop.set()
        watcher.join()
    seconds, cpu_after = time.perf_counter() - started, os.times()
    cpu = sum(
        getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("children_user", "children_system")
    )
    return {"db": db, "build_seconds": seconds, "cpu_seconds": round(cpu, 1), "peak_rss_gb": peaks["rss"] / 1024**3,
            "peak_rss_at": peaks["rss_at"], "peak_spill_gb": peaks["spill"] / 1024**3}  # fmt: skip


def run_size(customers: int, full: bool, memory_limit: str | None) -> dict:
    folder = REPO_ROOT / "data" / "scale" / str(customers)
    generation = generate(customers, folder)
    work = REPO_ROOT / "data" / "scale" / f"{customers}_{'full' if full else 'spine'}"
    work.mkdir(parents=True, exist_ok=True)
    built = build(folder, work, FULL if full else SPINE, memory_limit)
    floor = floor_seconds(folder, memory_limit)
    db, peak_rss_at = built.pop("db"), built.pop("peak_rss_at")
    [(events,)] = query(db, "select count(*) from staging.stg_shop__events")
    [(snapshots, cutoffs)] = query(
        db, "select count(*), count(distinct cutoff_date) from marts.fct_customer_snapshots"
    )
    results = json.loads((work / "target" / "run_results.json").read_text())
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    groups = group_times(results)
    sql_layers = sum(groups.get(g, 0.0) for g in SQL_LAYERS)
    return {
        "customers": customers,
        "mode": "full" if full else "spine",
        "clean_events": events,
        "snapshot_rows": snapshots,
        "cutoffs": cutoffs,
        "generation_seconds": generation,
        "floor_scan_seconds": floor,
        **built,
        # the nodes running when the RSS peaked (none: between nodes, or dbt's own start)
        "peak_rss_nodes": build_timeline.running_at(results, peak_rss_at) if peak_rss_at else [],
        "group_seconds": groups,
        "critical_path": build_timeline.summary(build_timeline.critical_path(results, manifest)),
        "sql_layers_seconds": sql_layers,
        "sql_layers_over_floor": sql_layers / floor,
        "memory_limit": memory_limit or "default (half the machine)",
        "load_average_after": os.getloadavg()[0],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", dest="full", action="store_true", default=True)
    mode.add_argument("--spine", dest="full", action="store_false")
    parser.add_argument("--memory-limit", default=None, help="e.g. 16GB; default: the project's")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or REPO_ROOT / "benchmarks/results" / (
        "scale.json" if args.full else "scale_spine.json"
    )
    os.environ.pop("RETENTION_DUCKDB_MEMORY_LIMIT", None)
    results = []
    for customers in args.customers:
        result = run_size(customers, args.full, args.memory_limit)
        print(json.dumps(result), flush=True)
        results.append(result)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
