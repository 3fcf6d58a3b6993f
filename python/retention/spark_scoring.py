"""Score the snapshot table on Spark with the champion churn model (docs/spark.md).

dbt Python models do not run on dbt-spark's session method, so on Spark the scores
come from here: the same package functions ml_churn_scores calls
(retention.churn.scoring.score_customers), applied per partition with mapInPandas.

- The retained-customer reference the reasons are measured against is a whole-table
  statistic (medians and modes of non-churners' mature snapshots), so it is computed
  once on Spark, with exact percentiles, and shipped to the workers.
- Workers load the model from the registry folder once per Python worker.
- pyspark is imported lazily: the package itself does not need it.

    python -m retention.spark_scoring --artifacts artifacts/retention \
        --snapshots marts.fct_customer_snapshots --output ml.churn_scores_spark

Workers run the interpreter in PYSPARK_PYTHON (set to this one when unset): it must
have this package and the model's libraries (requirements-spark.txt does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

TOP_REASONS = 3

SCORE_SCHEMA = ", ".join(
    [
        "customer_id string",
        "as_of_date date",
        "churn_probability double",
        "risk_tier string",
        "model_version string",
        "model_name string",
    ]
    + [f"reason_{k} string, reason_{k}_family string" for k in range(1, TOP_REASONS + 1)]
)

_MODELS: dict[str, object] = {}  # per worker process: model path -> ChurnModel


def _load_model(path: str):
    if path not in _MODELS:
        import joblib

        _MODELS[path] = joblib.load(path)
    return _MODELS[path]


def _project_root() -> Path:
    return Path(os.environ.get("RETENTION_HOME", Path.cwd()))


def spark_session(profiles_dir: Path | None = None, target: str = "spark"):
    """A SparkSession configured exactly as the dbt profile's target (same catalog,
    warehouse, time zone, ANSI mode), so it reads the tables dbt built."""
    import jinja2
    import yaml
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    profiles = Path(profiles_dir or _project_root()) / "profiles.yml"
    output = yaml.safe_load(profiles.read_text())["retention"]["outputs"][target]
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = lambda name, default=None: os.environ.get(name, default)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in (output.get("server_side_parameters") or {}).items():
        builder = builder.config(key, env.from_string(str(value)).render())
    # dbt-spark forces ANSI off on every connection; this session must agree with it.
    builder = builder.config("spark.sql.ansi.enabled", "false")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    return builder.getOrCreate()


def _first_mode(frame, column: str):
    """The most frequent non-null value, smallest on ties (pandas' Series.mode()[0])."""
    from pyspark.sql import functions as F

    row = (
        frame.where(F.col(column).isNotNull())
        .groupBy(column)
        .count()
        .orderBy(F.col("count").desc(), F.col(column).asc())
        .first()
    )
    return None if row is None else row[column]


def retained_reference_spark(model, snapshots) -> pd.Series:
    """retention.churn.scoring.retained_reference on a Spark DataFrame: medians of the
    numeric features (exact, interpolated like pandas) and modes of the categorical ones,
    over the mature snapshots of customers who did not churn."""
    from pyspark.sql import functions as F

    retained = snapshots.where(F.col("is_label_mature") & ~F.col("is_churned"))
    medians = retained.select(
        [
            F.percentile(F.col(c).cast("double"), F.lit(0.5)).alias(c)  # booleans -> 0/1
            for c in model.numeric
        ]
    ).first()
    reference = pd.Series(
        {c: np.nan if medians[c] is None else float(medians[c]) for c in model.numeric},
        dtype=object,
    )
    for column in model.categorical:
        reference[column] = _first_mode(retained, column)
    return reference


def score_snapshots(
    spark,
    snapshots_table: str = "marts.fct_customer_snapshots",
    artifacts: Path | None = None,
    high_risk: float = 0.7,
    medium_risk: float = 0.4,
):
    """Score the as-of rows of the snapshot table with the registry's champion.
    Returns a Spark DataFrame shaped like ml_churn_scores."""
    from retention.churn.registry import Registry

    registry = Registry(artifacts)
    version = registry.champion_version()
    if version is None:
        raise RuntimeError(
            f"No champion churn model in {registry.root}. Train one first: a DuckDB (or "
            "Databricks) dbt build runs ml_churn_training; point --artifacts at its registry."
        )
    model_path = str(registry.root / "models" / version / "model.joblib")
    model = _load_model(model_path)
    snapshots = spark.table(snapshots_table)
    reference = retained_reference_spark(model, snapshots)
    to_score = snapshots.where("is_scoring_cutoff")
    partitions = max(1, int(spark.sparkContext.defaultParallelism))

    def score_partition(batches):
        from threadpoolctl import threadpool_limits

        from retention.churn.scoring import score_customers

        worker_model = _load_model(model_path)
        with threadpool_limits(limits=1):
            for batch in batches:
                if batch.empty:
                    continue
                scores = score_customers(
                    batch,
                    worker_model,
                    version,
                    reference,
                    high_risk=high_risk,
                    medium_risk=medium_risk,
                    top_reasons=TOP_REASONS,
                )
                yield scores.astype({"churn_probability": "float64"})

    return to_score.repartition(partitions, "customer_id").mapInPandas(
        score_partition, SCORE_SCHEMA
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retention.spark_scoring",
        description="Score fct_customer_snapshots on Spark with the champion churn model.",
    )
    parser.add_argument("--profiles-dir", type=Path, default=None, help="default: RETENTION_HOME")
    parser.add_argument("--target", default="spark", help="profile target (default: spark)")
    parser.add_argument("--artifacts", type=Path, default=None, help="model registry folder")
    parser.add_argument("--snapshots", default="marts.fct_customer_snapshots")
    parser.add_argument("--output", default="ml.churn_scores_spark", help="table to (over)write")
    parser.add_argument("--high-risk", type=float, default=0.7)
    parser.add_argument("--medium-risk", type=float, default=0.4)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    spark = spark_session(args.profiles_dir, args.target)
    scores = score_snapshots(
        spark, args.snapshots, args.artifacts, args.high_risk, args.medium_risk
    )
    schema = args.output.split(".")[0] if "." in args.output else None
    if schema:
        spark.sql(f"create schema if not exists {schema}")
    scores.write.mode("overwrite").format("parquet").saveAsTable(args.output)
    count = spark.table(args.output).count()
    print(f"scored {count} customers into {args.output} in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
