"""Recommendations benchmark: quality of every candidate out of time, and their share of a
full build.

For each dataset (the demo seeds, and/or generated customers):
  - a full `dbt build` (every model, data and unit test, publish), in a database of its own;
  - cost: dbt's per-node execution times (target/run_results.json) of the recommendation
    nodes (int_customer_product_days_aggregated, int_customer_products_aggregated,
    ml_recommendation_evaluation, ml_product_recommendations, fct_recommendation_evaluation,
    fct_product_recommendations and the tests on them) against the sum over all nodes and
    against the build's wall time;
  - quality: marts.fct_recommendation_evaluation: every candidate at every cutoff, the chosen
    one, and at the holdout its hit-rate difference to the best popularity list with the
    paired bootstrap interval.

Usage:
  python benchmarks/recommendations.py --demo --customers 100000 [--runs 1] [--memory-limit 8GB]
Generated data is cached under data/scale/<N>/ (as benchmarks/scale.py makes it); builds go
to data/recommendations/<name>/. Results: benchmarks/results/recommendations_<name>.json, and
the tables are printed as markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from retention.dbt_runner import REPO_ROOT, query, run_dbt

RECOMMENDATION_MODELS = (
    "int_customer_product_days_aggregated",
    "int_customer_products_aggregated",
    "ml_recommendation_evaluation",
    "ml_product_recommendations",
    "fct_recommendation_evaluation",
    "fct_product_recommendations",
)


def generate(customers: int) -> Path:
    folder = REPO_ROOT / "data" / "scale" / str(customers)
    if not (folder / "events").is_dir():
        subprocess.run(
            [sys.executable, "-m", "retention.cli", "generate", "--customers", str(customers),
             "--seed", "1", "--out", str(folder), "--format", "parquet", "--quiet"],
            check=True,
        )  # fmt: skip
    return folder


def is_recommendation_node(node: dict, manifest: dict) -> bool:
    unique_id = node["unique_id"]
    name = unique_id.split(".")[-1] if unique_id.startswith("model.") else None
    if name in RECOMMENDATION_MODELS:
        return True
    if unique_id.startswith(("test.", "unit_test.")):
        parents = manifest["nodes"].get(
            unique_id, manifest.get("unit_tests", {}).get(unique_id, {})
        )
        refs = parents.get("depends_on", {}).get("nodes", [])
        models = [r.split(".")[-1] for r in refs if r.startswith("model.")]
        return bool(models) and all(m in RECOMMENDATION_MODELS for m in models)
    return False


def node_times(work: Path) -> dict:
    results = json.loads((work / "target" / "run_results.json").read_text())
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    total = sum(n["execution_time"] for n in results["results"])
    recommendation = {
        n["unique_id"]: n["execution_time"]
        for n in results["results"]
        if is_recommendation_node(n, manifest)
    }
    return {
        "elapsed_seconds": results["elapsed_time"],
        "sum_node_seconds": total,
        "recommendation_seconds": sum(recommendation.values()),
        "recommendation_nodes": dict(sorted(recommendation.items(), key=lambda kv: -kv[1])),
        "slowest_nodes": sorted(
            ((n["unique_id"], round(n["execution_time"], 2)) for n in results["results"]),
            key=lambda kv: -kv[1],
        )[:8],
    }


def build(name: str, dbt_vars: dict, runs: int, memory_limit: str) -> dict:
    work = REPO_ROOT / "data" / "recommendations" / name
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"{name}.duckdb"
    env = {
        "RETENTION_ARTIFACTS": str(work / "artifacts"),
        "RETENTION_DUCKDB_MEMORY_LIMIT": memory_limit,
        "PYTENSOR_FLAGS": f"compiledir={REPO_ROOT / '.cache' / 'pytensor'}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    timings = []
    for run in range(runs):
        for stale in (db, db.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        started = time.perf_counter()
        run_dbt(
            ["build"], db, work_dir=work,
            dbt_vars={**dbt_vars, "publish_path": str(work / "published")},
            env=env, timeout=4 * 3600,
        )  # fmt: skip
        wall = time.perf_counter() - started
        timing = node_times(work) | {"wall_seconds": wall}
        timings.append(timing)
        print(
            f"{name} run {run + 1}: wall {wall:.1f}s, recommendation nodes "
            f"{timing['recommendation_seconds']:.1f}s of {timing['sum_node_seconds']:.1f}s summed",
            file=sys.stderr,
        )
    evaluation, shipped = read_results(db)
    return {
        "name": name,
        "vars": dbt_vars,
        "runs": timings,
        "median_share_of_sum": statistics.median(
            t["recommendation_seconds"] / t["sum_node_seconds"] for t in timings
        ),
        "median_share_of_wall": statistics.median(
            t["recommendation_seconds"] / t["wall_seconds"] for t in timings
        ),
        "evaluation": evaluation,
        "shipped": shipped,
    }


def read_results(db) -> tuple[list[dict], dict]:
    """Every recommender's evaluation rows, and what the build shipped."""
    columns = [
        "recommender", "cutoff_date", "cutoff_role", "customer_group", "customers",
        "active_customers", "hit_customers", "hit_rate", "precision_at_n", "recall_at_n",
        "ndcg_at_n", "catalogue_coverage", "is_chosen", "includes_owned",
        "hit_rate_vs_best_popularity", "hit_rate_diff_ci_low", "hit_rate_diff_ci_high",
        "best_popularity_recommender", "parameters_json",
    ]  # fmt: skip
    rows = query(
        db,
        f"select {', '.join(columns)} from marts.fct_recommendation_evaluation"
        " order by customer_group, cutoff_date, recommender",
    )
    evaluation = [
        dict(zip(columns, [str(v) if hasattr(v, "isoformat") else v for v in r], strict=True))
        for r in rows
    ]
    [(at_risk, listed)] = query(
        db, "select count(distinct customer_id), count(*) from marts.fct_product_recommendations"
    )
    sources = query(
        db,
        "select recommendation_source, count(*) from marts.fct_product_recommendations group by 1 order by 2 desc",
    )
    shipped = {"customers": at_risk, "rows": listed, "sources": dict(sources)}
    return evaluation, shipped


def markdown(result: dict) -> str:
    rows = [r for r in result["evaluation"] if r["customer_group"] == "all"]
    cutoffs = sorted({(r["cutoff_date"], r["cutoff_role"]) for r in rows})
    validation = [c for c, role in cutoffs if role == "validation"]
    holdout = [c for c, role in cutoffs if role == "holdout"]
    lines = [
        f"**{result['name']}**: validation cutoffs {', '.join(validation)}; holdout "
        f"{', '.join(holdout) or 'none'}",
        "",
        "| recommender | validation hit rate@5 (pooled) | holdout hit rate@5 | precision@5 | "
        "recall@5 | NDCG@5 | coverage | vs best popularity (95% CI) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = sorted(
        {r["recommender"] for r in rows}, key=lambda n: [r["recommender"] for r in rows].index(n)
    )
    for name in names:
        mine = [r for r in rows if r["recommender"] == name]
        val = [r for r in mine if r["cutoff_role"] == "validation"]
        pooled = sum(r["hit_customers"] for r in val) / max(sum(r["customers"] for r in val), 1)
        hold = next((r for r in mine if r["cutoff_role"] == "holdout"), None)
        chosen = any(r["is_chosen"] for r in mine)
        label = f"**{name}** (chosen)" if chosen else name
        if hold is None:
            lines.append(f"| {label} | {pooled:.4f} | | | | | | |")
            continue
        diff = hold["hit_rate_vs_best_popularity"]
        ci = (
            f"{diff:+.4f} ({hold['hit_rate_diff_ci_low']:+.4f} to {hold['hit_rate_diff_ci_high']:+.4f})"
            if diff is not None and diff == diff
            else ""
        )
        lines.append(
            f"| {label} | {pooled:.4f} | {hold['hit_rate']:.4f} | {hold['precision_at_n']:.4f} | "
            f"{hold['recall_at_n']:.4f} | {hold['ndcg_at_n']:.4f} | {hold['catalogue_coverage']:.3f} | {ci} |"
        )
    timing = result["runs"]
    lines += [
        "",
        f"Cost: recommendation nodes {statistics.median(t['recommendation_seconds'] for t in timing):.1f} s; "
        f"share of the summed node time {result['median_share_of_sum']:.1%}, of the build's wall "
        f"time {result['median_share_of_wall']:.1%} (median of {len(timing)} run(s); build wall "
        f"{statistics.median(t['wall_seconds'] for t in timing):.0f} s).",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="the committed demo seeds")
    parser.add_argument("--customers", type=int, nargs="*", default=[])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--memory-limit", default=os.environ.get("RETENTION_DUCKDB_MEMORY_LIMIT", "8GB")
    )
    args = parser.parse_args(argv)
    datasets = ([("demo", {})] if args.demo else []) + [
        (f"{n // 1000}k", {"raw_path": str(generate(n))}) for n in args.customers
    ]
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    for name, dbt_vars in datasets:
        result = build(name, dbt_vars, args.runs, args.memory_limit)
        (out / f"recommendations_{name}.json").write_text(json.dumps(result, indent=1, default=str))
        print(markdown(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
