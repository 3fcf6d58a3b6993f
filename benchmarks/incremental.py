"""Incremental benchmark: one extra day, incremental build against a full refresh.

From a raw folder (the demo seeds by default, or any `raw_path` folder such as
data/scale/<N>), write two Parquet copies: `before` without the last day of
orders and events (and the lines of those orders), and `after` with all of it.
Then, into one database:
  1. build the spine (staging -> fct_customer_snapshots, data tests included)
     on `before` (not timed: this is yesterday's warehouse);
  2. build it again on `after`: incremental, timed;
  3. build it on `after` with --full-refresh, timed.
Per-model seconds come from dbt's run_results.json.

Usage: python benchmarks/incremental.py [--raw data/scale/100000] [--name 100k]
Results: benchmarks/results/incremental_<name>.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

from retention.dbt_runner import REPO_ROOT, run_dbt

SPINE = [
    "build", "--select", "+fct_customer_snapshots", "--exclude", "test_type:unit",
    "--indirect-selection", "cautious",
]  # fmt: skip
TABLES = ["orders", "order_items", "events", "customers", "products"]
# The row-level models an incremental run recomputes, and the sessions (an incremental table
# until 2026-12-04, a view since, sessionized inside customer-days' run): kept so that runs of
# either code compare.
INCREMENTAL = [
    "base_shop__orders_checked", "base_shop__order_items_checked", "base_shop__events_checked",
    "int_events_sessionized", "int_customer_days_aggregated",
]  # fmt: skip


def reader(folder: Path, table: str) -> str:
    """A DuckDB table function over `table` in a raw folder (the layouts raw_path accepts)."""
    for pattern, kind in [(f"{table}.parquet", "parquet"), (f"{table}/*.parquet", "parquet"),
                          (f"{table}.csv", "csv"), (f"{table}/*.csv", "csv"),
                          (f"raw_{table}.csv", "csv")]:  # fmt: skip
        if list(folder.glob(pattern)):
            path = folder / pattern
            if kind == "parquet":
                return f"read_parquet('{path}', union_by_name = true)"
            return f"read_csv('{path}', header = true, all_varchar = true, union_by_name = true)"
    raise FileNotFoundError(f"no {table} in {folder}")


def split(raw: Path, out: Path) -> str:
    """Write out/before and out/after as Parquet; return the held-back day."""
    con = duckdb.connect()
    for table in TABLES:
        con.execute(f"create table {table} as select * from {reader(raw, table)}")
    [(last_day,)] = con.execute(
        # the last real day: defect rows dated in the future do not count
        "select cast(max(d) as varchar) from ("
        " select try_cast(ordered_at as timestamp) as d from orders"
        " union all select try_cast(event_at as timestamp) from events)"
        " where d <= current_timestamp"
    ).fetchall()
    last_day = last_day[:10]
    new = {"orders": "ordered_at", "events": "event_at"}
    for stage in ("before", "after"):
        (out / stage).mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            query = f"select * from {table}"
            if stage == "before" and table in new:
                query += (
                    f" where try_cast({new[table]} as timestamp) is null"
                    f" or try_cast({new[table]} as timestamp) < date '{last_day}'"
                )
            elif stage == "before" and table == "order_items":
                query += (
                    " where order_id not in (select order_id from orders"
                    f" where try_cast(ordered_at as timestamp) >= date '{last_day}')"
                )
            con.execute(f"copy ({query}) to '{out / stage / table}.parquet' (format parquet)")
    return last_day


def model_seconds(work: Path) -> dict[str, float]:
    results = json.loads((work / "target" / "run_results.json").read_text())
    return {
        node["unique_id"].split(".")[-1]: round(node["execution_time"], 2)
        for node in results["results"]
        if node["unique_id"].startswith("model.")
    }


def timed_build(args: list[str], db: Path, work: Path, raw: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    run_dbt([*SPINE, *args], db, work_dir=work, dbt_vars={"raw_path": str(raw)}, timeout=3 * 3600)
    return time.perf_counter() - started, model_seconds(work)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=REPO_ROOT / "seeds" / "demo")
    parser.add_argument("--name", default="demo")
    args = parser.parse_args(argv)
    work = REPO_ROOT / "data" / "incremental" / args.name
    db = work / "incremental.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    held_back = split(args.raw, work)
    timed_build([], db, work, work / "before")
    incremental, incremental_models = timed_build([], db, work, work / "after")
    full, full_models = timed_build(["--full-refresh"], db, work, work / "after")
    result = {
        "raw": str(args.raw),
        "held_back_day": held_back,
        "incremental_build_seconds": round(incremental, 1),
        "full_refresh_build_seconds": round(full, 1),
        "incremental_models_seconds": {m: incremental_models.get(m) for m in INCREMENTAL},
        "full_refresh_models_seconds": {m: full_models.get(m) for m in INCREMENTAL},
        "all_models_seconds_incremental": round(sum(incremental_models.values()), 1),
        "all_models_seconds_full_refresh": round(sum(full_models.values()), 1),
    }
    print(json.dumps(result, indent=1))
    out = REPO_ROOT / "benchmarks" / "results" / f"incremental_{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
