"""Spark compatibility check (docs/spark.md): the SQL layer gives the same tables on
Spark as on DuckDB, and the champion scores the same customers the same way on both.

    .venv-spark/bin/python tests/spark/parity.py [--vars '{...}']     (make spark-parity)
    .venv-spark/bin/python tests/spark/parity.py --vars '{...}' --duckdb test.duckdb
                                                         (make test; .ci/run)

1. builds the SQL layer on Spark (target spark, its own warehouse folder) and, unless
   --duckdb names a DuckDB build of the demo that already exists (make test's), the demo
   warehouse on DuckDB at the same time (default target, its own database; without the
   Python models the check does not read); both with --vars (the Makefile passes the
   demo's, DEMO_VARS, so the contacts source's SQL models are compared too);
2. compares every table and view the Spark build made (seeds, staging, intermediate,
   the SQL marts) with DuckDB's, row for row: the same columns, the same number of
   rows, exact keys, text, integers, booleans and dates, floats within a tolerance;
3. scores the Spark snapshot table with DuckDB's champion model (mapInPandas over the
   package function ml_churn_scores uses) and compares with DuckDB's ml_churn_scores.

Exits 1 with a diff summary on any difference. Timings go to the output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "spark_parity.duckdb"
SPARK_DIR = "spark-warehouse/parity"  # under ROOT (gitignored)
FLOAT_RTOL = 1e-9  # doubles summed in a different order differ in the last bits
FLOAT_ATOL = 1e-9
SCORE_ATOL = 1e-6  # same features within FLOAT_RTOL, same model: same probability
# When the build ran, not what it computed (macros/incremental): each engine's build starts at
# its own second, so these must exist on both but their values are not compared.
RUN_METADATA_COLUMNS = {"checked_at"}

# Built on Spark, must be compared: a model silently disabled there must fail the check.
REQUIRED = [
    "staging.stg_shop__orders",
    "staging.stg_shop__customers",
    "staging.stg_shop__order_items",
    "staging.stg_shop__products",
    "staging.stg_shop__events",
    "staging.stg_shop__quarantined_rows",
    "intermediate.int_customer_days_aggregated",
    "intermediate.int_snapshots_featurized",
    "intermediate.int_snapshots_labelled",
    "marts.fct_customer_snapshots",
    "marts.fct_cohort_retention",
    "marts.fct_source_quality",
]


# Python models the check never reads, with everything downstream of them: Spark builds
# none of these (it has no Python models), and the scores need only ml_churn_training.
# `make test` builds and tests them all on DuckDB before this check.
DUCKDB_SKIPPED = [
    "ml_customer_value+",
    "ml_customer_segments+",
    "ml_recommendation_evaluation+",
    "ml_product_recommendations+",
]


def log(message: str) -> None:
    print(f"[spark-parity] {message}", flush=True)


def environment(database: Path) -> dict:
    env = dict(os.environ)
    env.update(
        RETENTION_HOME=str(ROOT),
        RETENTION_DB=str(database),
        RETENTION_SPARK_DIR=SPARK_DIR,
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTENSOR_FLAGS=f"compiledir={ROOT}/.cache/pytensor",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def fresh_start(own_duckdb: bool) -> None:
    """No state from an earlier run: the Spark catalog and tables, and the check's own
    DuckDB database, registry and publish folder (never a database it was given)."""
    paths = [ROOT / SPARK_DIR]
    if own_duckdb:
        stem = Path(DB_NAME).stem
        paths += [ROOT / DB_NAME, ROOT / f"{DB_NAME}.wal"]
        paths += [ROOT / "artifacts" / stem, ROOT / "published" / stem]
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def start_build(name: str, args: list[str], env: dict) -> tuple[subprocess.Popen, Path, float]:
    logfile = ROOT / "logs" / f"spark-parity-{name}.log"
    logfile.parent.mkdir(exist_ok=True)
    dbt = str(Path(sys.executable).with_name("dbt"))
    handle = logfile.open("w")
    process = subprocess.Popen(
        [dbt, *args], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    return process, logfile, time.perf_counter()


def wait_for_builds(builds: dict[str, tuple]) -> dict[str, float]:
    """Wait for every build; the seconds each took. Exits with its log's errors if one failed."""
    seconds: dict[str, float] = {}
    while len(seconds) < len(builds):
        for name, (process, _, started) in builds.items():
            if name not in seconds and process.poll() is not None:
                seconds[name] = time.perf_counter() - started
        time.sleep(1)
    for name, (process, logfile, _) in builds.items():
        if process.returncode != 0:
            lines = logfile.read_text(errors="replace").splitlines()
            errors = [line for line in lines if "ERROR" in line or "Error" in line]
            print("\n".join((errors or lines)[-40:]))
            log(
                f"FAILED: the {name} build exited {process.returncode} after "
                f"{seconds[name]:.0f}s (full log: {logfile})"
            )
            sys.exit(1)
        log(f"{name} build: {seconds[name]:.0f}s (log: {logfile})")
    return seconds


# ---------------------------------------------------------------- comparing


def compare(
    name: str, duck: pd.DataFrame, spark: pd.DataFrame, atol: float = FLOAT_ATOL
) -> list[str]:
    """Differences between DuckDB's and Spark's version of a table (empty = identical)."""
    from retention.table_diff import frame_differences

    return frame_differences(
        duck,
        spark,
        labels=("DuckDB", "Spark"),
        ignore_columns=RUN_METADATA_COLUMNS,
        rtol=FLOAT_RTOL,
        atol=atol,
    )


# ---------------------------------------------------------------- the check


def spark_relations(manifest_path: Path) -> list[str]:
    """schema.table of every seed and model the Spark build made."""
    manifest = json.loads(manifest_path.read_text())
    names = []
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("seed", "model") and node["config"].get("enabled", True):
            names.append(f"{node['schema']}.{node.get('alias') or node['name']}")
    return sorted(names)


def start_builds(own_duckdb: bool, dbt_vars: str, env: dict) -> dict[str, tuple]:
    """The Spark build and, when the check has no DuckDB build to compare with, DuckDB's
    at the same time: DuckDB's is mostly Python (ML), Spark's mostly the JVM. Target and
    log folders of their own: `make test` runs this beside its pytest."""
    spark_args = ["build", "--target", "spark", "--target-path", "target/spark-parity-spark",
                  "--log-path", "logs/spark-parity-spark", "--vars", dbt_vars]  # fmt: skip
    builds = {"spark": start_build("spark", spark_args, env)}
    if own_duckdb:
        duckdb_args = ["build", "--target-path", "target/spark-parity-duckdb", "--log-path",
                       "logs/spark-parity-duckdb", "--exclude", *DUCKDB_SKIPPED,
                       "--vars", dbt_vars]  # fmt: skip
        builds["duckdb"] = start_build("duckdb", duckdb_args, env)
    return builds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vars",
        default="{}",
        help="dbt vars of both builds (YAML, as dbt's --vars); with --duckdb, the ones that "
        "database was built with",
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        help="a DuckDB build of the demo to compare with (built with the demo's vars, as "
        "make test's test.duckdb), instead of building one; it is only read",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    total_started = time.perf_counter()
    # Spark 4 accepts some DuckDB-only syntax (`::`, QUALIFY): the static rules first.
    sys.path.insert(0, str(Path(__file__).parent))
    from check_portable_sql import main as check_portable_sql

    if check_portable_sql([]) != 0:
        log("FAILED: non-portable SQL (above); fix it before comparing engines")
        return 1
    own_duckdb = args.duckdb is None
    database = (ROOT / DB_NAME) if own_duckdb else args.duckdb.resolve()
    if not own_duckdb and not database.is_file():
        log(f"FAILED: no DuckDB build at {database} (--duckdb); run `make dbt-test` first")
        return 1
    env = environment(database)
    os.environ.update(env)
    fresh_start(own_duckdb)
    timings = {}

    against = "and the demo warehouse on DuckDB" if own_duckdb else f"to compare with {database}"
    log(f"building the SQL layer on Spark {against} ...")
    seconds = wait_for_builds(start_builds(own_duckdb, args.vars, env))
    timings.update({f"{name}_build": value for name, value in seconds.items()})

    import duckdb

    from retention.spark_scoring import spark_session

    started = time.perf_counter()
    # pyspark 4.3 warns that pandas 3 is not fully supported; this check is the evidence
    # that what we use of it (toPandas, mapInPandas) gives the same numbers.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    session = spark_session(ROOT)
    session.sparkContext.setLogLevel("ERROR")
    if not session_settings_ok(session):
        return 1
    relations = spark_relations(ROOT / "target" / "spark-parity-spark" / "manifest.json")
    con = duckdb.connect(str(database), read_only=True)
    failures = compare_relations(con, session, relations)
    timings["comparison"] = time.perf_counter() - started
    started = time.perf_counter()
    problems = compare_scores(con, session, ROOT / "artifacts" / database.stem)
    timings["spark_scoring"] = time.perf_counter() - started
    if problems:
        failures["churn scores"] = problems
    session.stop()
    timings["total"] = time.perf_counter() - total_started
    return summarise(failures, relations, timings)


def session_settings_ok(session) -> bool:
    """Spark must run with the profile's settings: ANSI off, UTC."""
    ansi = session.conf.get("spark.sql.ansi.enabled")
    time_zone = session.conf.get("spark.sql.session.timeZone")
    if ansi != "false" or time_zone != "UTC":
        log(
            f"FAILED: Spark runs with ansi={ansi}, timeZone={time_zone}; the profile says false, UTC"
        )
        return False
    return True


def compare_relations(con, session, relations: list[str]) -> dict[str, list[str]]:
    """Every relation built on Spark against DuckDB's; the required ones must be there."""
    failures: dict[str, list[str]] = {}
    missing = [r for r in REQUIRED if r not in relations]
    if missing:
        failures["(build)"] = [f"not built on Spark: {', '.join(missing)}"]
    log(f"comparing {len(relations)} relations built on Spark with DuckDB's:")
    for relation in relations:
        duck_frame = con.sql(f"select * from {relation}").df()
        spark_frame = session.table(relation).toPandas()
        try:
            problems = compare(relation, duck_frame, spark_frame)
        except Exception as error:  # a comparison that cannot run is a difference too
            problems = [f"could not compare: {type(error).__name__}: {error}"]
        status = "ok" if not problems else "DIFFERENT"
        log(f"  {relation:<52} {len(duck_frame):>7} rows  {status}")
        if problems:
            failures[relation] = problems
    return failures


def noisy_feature_customers(con, session, artifacts: Path) -> set:
    """Customers whose model features differ in any bit between the engines."""
    from retention.churn.frames import prepare_snapshots
    from retention.churn.registry import Registry

    registry = Registry(artifacts)
    features = registry.load_model(registry.champion_version()).features
    sql = "select * from marts.fct_customer_snapshots where is_scoring_cutoff"
    duck = prepare_snapshots(con.sql(sql).df()).set_index("customer_id")[features]
    spark = prepare_snapshots(session.sql(sql).toPandas()).set_index("customer_id")[features]
    spark = spark.reindex(duck.index)
    differs = pd.Series(False, index=duck.index)
    for column in features:
        a, b = duck[column], spark[column]
        differs |= ~((a == b) | (a.isna() & b.isna())).fillna(False).astype(bool)
    return set(differs[differs].index)


def compare_scores(con, session, artifacts: Path) -> list[str]:
    """DuckDB's champion (its registry: artifacts) applied on Spark (mapInPandas) against
    ml_churn_scores."""
    from retention.spark_scoring import score_snapshots

    spark_scores = score_snapshots(session, "marts.fct_customer_snapshots", artifacts).toPandas()
    duck_scores = con.sql(
        "select * from ml.ml_churn_scores where as_of_date = "
        "(select max(as_of_date) from marts.fct_customer_snapshots)"
    ).df()
    # Both engines compute the features to within float rounding (FLOAT_RTOL), not always to
    # the same bits; a tree's threshold can fall between two such values. The scores must be
    # the same for every customer whose model features are bit for bit the same; the others
    # are counted and reported (their features were already compared to FLOAT_RTOL above).
    noisy = noisy_feature_customers(con, session, artifacts)
    duck_exact = duck_scores[~duck_scores["customer_id"].isin(noisy)]
    spark_exact = spark_scores[~spark_scores["customer_id"].isin(noisy)]
    # A float32 network (Keras) predicts the same rows in other batches than DuckDB's
    # scoring does, which moves its probabilities by ~1e-8: within SCORE_ATOL, not FLOAT_ATOL.
    problems = compare("churn scores", duck_exact, spark_exact, atol=SCORE_ATOL)
    if len(noisy) == len(duck_scores) and len(noisy):
        problems.append("no customer has the same features on both engines: nothing compared")
    merged = duck_exact.merge(spark_exact, on="customer_id", suffixes=("_duck", "_spark"))
    max_diff = (
        float(np.max(np.abs(merged["churn_probability_duck"] - merged["churn_probability_spark"])))
        if len(merged)
        else float("nan")
    )
    if not len(merged) == len(duck_exact) == len(spark_exact) or len(duck_scores) != len(
        spark_scores
    ):
        problems.append(
            f"customers: {len(duck_scores)} scored on DuckDB, {len(spark_scores)} on Spark, "
            f"{len(merged)} in both"
        )
    log(
        f"  churn scores (mapInPandas, champion {spark_scores['model_version'].iloc[0]}): "
        f"{len(spark_scores)} customers, max abs diff of churn_probability {max_diff:.3g} "
        f"where the features are bit for bit equal ({len(noisy)} customers with float-noise "
        "features left out)"
        f"  {'ok' if not problems else 'DIFFERENT'}"
    )
    return problems


def summarise(failures: dict[str, list[str]], relations: list[str], timings: dict) -> int:
    log("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    if failures:
        log(f"FAILED: {len(failures)} of {len(relations) + 1} comparisons differ")
        for name, problems in failures.items():
            print(f"  {name}")
            for problem in problems:
                print(f"    - {problem}")
        return 1
    log(f"PASSED: {len(relations)} relations and the churn scores match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
