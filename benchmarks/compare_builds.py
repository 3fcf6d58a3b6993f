"""Compare two builds of the warehouse row for row: did a refactor change any result?

A build is a full `dbt build` (every model, test and the publish) into a DuckDB file of
its own, from a git revision (exported with `git archive`, its own Python package first on
PYTHONPATH) or from this working tree. `compare` then reads every relation of both files
and reports, per relation, whether it is identical (keys, text, integers, booleans and
dates equal; floats within 1e-9, the Spark parity check's rule: retention.table_diff).

    # the demo and CDNOW, before (a revision) and after (this working tree), then compare
    python benchmarks/compare_builds.py run --before main --datasets demo cdnow

    # another configuration: the same extra vars for both builds
    python benchmarks/compare_builds.py run --before main --datasets demo --suffix _activity \
        --vars '{"churn_definition": "activity", "churn_on_insufficient_labels": "skip"}'

    # or step by step
    python benchmarks/compare_builds.py build --dataset demo --ref main --name before_demo
    python benchmarks/compare_builds.py build --dataset demo --name after_demo
    python benchmarks/compare_builds.py compare before_demo after_demo

Databases, logs, artefacts and the JSON summary go to benchmarks/results/compare_builds/
(gitignored). `compare` exits 1 when a relation differs that is not listed with
`--expected RELATION` (a definition unified on purpose: say why in the commit/report).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

import duckdb
import yaml

from retention.dbt_runner import REPO_ROOT
from retention.table_diff import frame_differences

RESULTS = REPO_ROOT / "benchmarks" / "results" / "compare_builds"
CDNOW_SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "cdnow"
# Columns that say when, where or in which process a build ran, not what it computed:
# they must exist on both sides, their values are not compared. "*" is every relation.
RUN_METADATA_COLUMNS = {
    "*": {
        "checked_at",  # staging: the build's start (macros/incremental)
        "trained_at",  # registry: wall-clock time of the training run
    },
    # under the build's own artefact folder
    "ml.ml_churn_training": {"artifact_path"},
    "marts.fct_model_runs": {"artifact_path"},
    # published/<database>/<build id>/..., when and as which build
    "publish.publish_marts": {"path", "published_at", "build_id"},
}
# Relations that differ between two builds of the same commit, reported but not counted.
# None since e4455f9: the recommenders code products and customers in id order, so their
# lists no longer follow DuckDB's scan order (at 9dd6a09 the four recommendation relations
# differed between two builds of one commit; at a5f957e they were identical before/after).
NONDETERMINISTIC: set[str] = set()
# Relations that are the build's own bookkeeping, not results.
SKIPPED_SCHEMAS = {"test_results"}


def log(message: str) -> None:
    print(f"[compare-builds] {message}", flush=True)


# ---------------------------------------------------------------- building


def source_tree(ref: str | None) -> Path:
    """The project at ``ref`` (exported once per commit), or this working tree."""
    if ref is None:
        return REPO_ROOT
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    tree = RESULTS / "trees" / commit[:12]
    if not (tree / "dbt_project.yml").exists():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        log(f"exported {ref} ({commit[:12]}) to {tree}")
    return tree


def build_env(tree: Path, database: Path) -> dict[str, str]:
    work = database.with_suffix("")
    env = {
        **os.environ,
        "RETENTION_HOME": str(tree),
        "RETENTION_DB": str(database),
        "RETENTION_ARTIFACTS": str(work / "artifacts"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        # the tree's own package, not the editable install of this working tree
        "PYTHONPATH": os.pathsep.join(
            p for p in [str(tree / "python"), os.environ.get("PYTHONPATH", "")] if p
        ),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTENSOR_FLAGS": f"compiledir={REPO_ROOT}/.cache/pytensor",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    return env


def fresh(database: Path, tree: Path) -> None:
    """No state from an earlier build: database, registry, publish, dbt folders."""
    work = database.with_suffix("")
    for path in [database, Path(f"{database}.wal")]:
        path.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(tree / "published" / database.stem, ignore_errors=True)
    work.mkdir(parents=True)


def dataset_vars(dataset: str, tree: Path, env: dict[str, str], work: Path) -> dict | None:
    """dbt vars for the dataset; CDNOW is loaded first, as `make cdnow` does."""
    if dataset == "demo":
        return None
    raw = work / "cdnow_raw"
    subprocess.run(
        [sys.executable, "-m", "retention.cli", "load-cdnow", "--source", str(CDNOW_SOURCE),
         "--out", str(raw)],
        cwd=tree, env=env, check=True,
    )  # fmt: skip
    dbt_vars = yaml.safe_load((tree / "config" / "cdnow_vars.yml").read_text())
    dbt_vars["raw_path"] = str(raw)
    return dbt_vars


def build(dataset: str, name: str, ref: str | None, extra_vars: dict | None = None) -> Path:
    tree = source_tree(ref)
    RESULTS.mkdir(parents=True, exist_ok=True)
    database = RESULTS / f"{name}.duckdb"
    fresh(database, tree)
    env = build_env(tree, database)
    work = database.with_suffix("")
    dbt_vars = {**(dataset_vars(dataset, tree, env, work) or {}), **(extra_vars or {})}
    # One thread: the results do not depend on it, it shares the machine politely, and two
    # Python models starting together can race on a first `import sklearn` (seen once:
    # "partially initialized module 'sklearn.base'").
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--threads", "1",
               "--project-dir", str(tree), "--profiles-dir", str(tree)]  # fmt: skip
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    log(f"building {dataset} from {ref or 'the working tree'} into {database} ...")
    started = time.perf_counter()
    with (work / "build.log").open("w") as handle:
        result = subprocess.run(command, cwd=tree, env=env, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = (work / "build.log").read_text(errors="replace").splitlines()[-30:]
        print("\n".join(tail))
        raise SystemExit(f"the build failed after {seconds:.0f}s (log: {work / 'build.log'})")
    log(f"built in {seconds:.0f}s (log: {work / 'build.log'})")
    return database


# ---------------------------------------------------------------- comparing


def relations(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() order by 1, 2"
    ).fetchall()
    return [f"{schema}.{table}" for schema, table in rows if schema not in SKIPPED_SCHEMAS]


def resolve(name: str) -> Path:
    path = Path(name)
    return path if path.suffix == ".duckdb" else RESULTS / f"{name}.duckdb"


def compare(before: Path, after: Path, expected: set[str]) -> dict:
    """Per relation: identical, different (with the differences) or missing on one side."""
    left = duckdb.connect(str(before), read_only=True)
    right = duckdb.connect(str(after), read_only=True)
    names_left, names_right = set(relations(left)), set(relations(right))
    report: dict[str, dict] = {}
    for relation in sorted(names_left | names_right):
        if relation not in names_right or relation not in names_left:
            side = "after" if relation in names_left else "before"
            report[relation] = {"status": "missing", "problems": [f"not in the {side} build"]}
            continue
        frame_left = left.sql(f"select * from {relation}").df()
        frame_right = right.sql(f"select * from {relation}").df()
        try:
            problems = frame_differences(
                frame_left, frame_right, labels=("before", "after"),
                ignore_columns=RUN_METADATA_COLUMNS["*"] | RUN_METADATA_COLUMNS.get(relation, set()),
            )  # fmt: skip
        except Exception as error:  # a comparison that cannot run is a difference too
            problems = [f"could not compare: {type(error).__name__}: {error}"]
        status = "identical" if not problems else "different"
        report[relation] = {"status": status, "rows": len(frame_left), "problems": problems}
    excused = expected | NONDETERMINISTIC
    unexpected = [r for r, v in report.items() if v["status"] != "identical" and r not in excused]
    for relation, result in report.items():
        flag = result["status"] if result["status"] == "identical" else result["status"].upper()
        note = ""
        if result["status"] != "identical" and relation in excused:
            note = (
                " (expected)" if relation in expected else " (differs between identical builds too)"
            )
        log(f"  {relation:<58} {result.get('rows', '-'):>8} rows  {flag}{note}")
        for problem in result["problems"]:
            log(f"      - {problem}")
    identical = sum(v["status"] == "identical" for v in report.values())
    log(
        f"{identical} of {len(report)} relations identical; "
        f"{len(report) - identical - len(unexpected)} expected or nondeterministic differences, "
        f"{len(unexpected)} unexpected" + (f": {', '.join(unexpected)}" if unexpected else "")
    )
    return {"before": str(before), "after": str(after), "relations": report,
            "unexpected": unexpected}  # fmt: skip


def write_summary(name: str, summary: dict) -> None:
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    log(f"summary: {path}")


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("build", help="one full build into its own database")
    one.add_argument("--dataset", choices=["demo", "cdnow"], default="demo")
    one.add_argument("--ref", default=None, help="git revision (default: this working tree)")
    one.add_argument("--name", required=True, help="database name under the results folder")
    one.add_argument("--vars", default="{}", help="extra dbt vars (JSON)")
    cmp = commands.add_parser("compare", help="compare two built databases row for row")
    cmp.add_argument("before")
    cmp.add_argument("after")
    cmp.add_argument(
        "--expected", action="append", default=[], help="schema.relation allowed to differ"
    )
    run = commands.add_parser(
        "run", help="build before (a revision) and after (this tree), compare"
    )
    run.add_argument("--before", required=True, help="git revision of the before build")
    run.add_argument("--datasets", nargs="+", choices=["demo", "cdnow"], default=["demo", "cdnow"])
    run.add_argument(
        "--expected", action="append", default=[], help="schema.relation allowed to differ"
    )
    run.add_argument("--vars", default="{}", help="extra dbt vars (JSON) for both builds")
    run.add_argument("--suffix", default="", help="appended to the database names")
    args = parser.parse_args(argv)

    if args.command == "build":
        build(args.dataset, args.name, args.ref, json.loads(args.vars))
        return 0
    if args.command == "compare":
        before, after = resolve(args.before), resolve(args.after)
        summary = compare(before, after, set(args.expected))
        write_summary(f"{before.stem}_vs_{after.stem}", summary)
        return 1 if summary["unexpected"] else 0
    status = 0
    extra = json.loads(args.vars)
    for dataset in args.datasets:
        before = build(dataset, f"before_{dataset}{args.suffix}", args.before, extra)
        after = build(dataset, f"after_{dataset}{args.suffix}", None, extra)
        summary = compare(before, after, set(args.expected))
        write_summary(f"{dataset}{args.suffix}_before_vs_after", summary)
        status |= 1 if summary["unexpected"] else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
