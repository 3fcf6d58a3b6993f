"""Generalization benchmark: what `dbt build` ships, at many origins and regimes.

Each origin is a real build of the churn path with `as_of_date` set (nothing is
retrained in this script); its `fct_churn_scores` is compared with what
happened in [as_of_date, as_of_date + H), next to every learner's best recipe
and every baseline that the same build kept (retention.backtest).

Origins:
  - CDNOW (the real log, ../shared/datasets/cdnow): as_of monthly from
    1997-10-01 to 1998-04-01, at H = 90 and H = 30 days.
  - Generated shops (`retention generate`, 3,000 customers, two years), turned
    into regimes built to break model selection: 4 months of history with a
    30-day horizon; a churn rate that rises by about 10 points between
    training and scoring; orders only; no amounts; mostly one-time buyers.

Per origin: AUC, log loss, ECE and aggregate error of the shipped model and of
every candidate and baseline; the summary counts the origins where the shipped
model's log loss is at most the best baseline's + 0.005 and its AUC at least
the best baseline's - 0.01.

Usage: python benchmarks/generalization.py [--quick] [--jobs 2] [--out results.json]
(--quick: one CDNOW origin and one regime, as `make test` runs). Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from retention.backtest import ORDERS_ONLY, OriginSpec, build_origin, regime_files, score_origin
from retention.datagen import GeneratorConfig, generate
from retention.dbt_runner import REPO_ROOT
from retention.loaders.cdnow import load_cdnow

log = logging.getLogger("generalization")
CDNOW_ORIGINS = ["1997-10-01", "1997-11-01", "1997-12-01", "1998-01-01", "1998-02-01",
                 "1998-03-01", "1998-04-01"]  # fmt: skip
REGIMES = {  # regime: (as_of, horizon)
    "short_history": ("2024-11-01", 30),
    "rising_churn": ("2024-10-01", 90),
    "orders_only": ("2024-10-01", 90),
    "no_amounts": ("2024-10-01", 90),
    "one_time_buyers": ("2024-10-01", 90),
}
QUICK = {"cdnow": [("1998-04-01", 90)], "regimes": ["rising_churn"]}


def origins(work: Path, cdnow: Path, quick: bool, only: str = "all") -> list[OriginSpec]:
    """The origins to build; `only` keeps the CDNOW ones or the generated regimes."""
    specs = []
    if only != "regimes":
        load_cdnow(cdnow, work / "cdnow")
        points = QUICK["cdnow"] if quick else [(t, h) for h in (90, 30) for t in CDNOW_ORIGINS]
        specs += [OriginSpec("cdnow", work / "cdnow", t, h, ORDERS_ONLY) for t, h in points]
    if only != "cdnow":
        generated = work / "generated"
        generate(GeneratorConfig(customers=3000, seed=7, out=generated, format="parquet",
                                 quiet=True))  # fmt: skip
        for regime in QUICK["regimes"] if quick else REGIMES:
            as_of, horizon = REGIMES[regime]
            raw, dbt_vars = regime_files(generated, work / "regimes", regime, as_of, horizon)
            specs.append(OriginSpec(regime, raw, as_of, horizon, dbt_vars))
    return specs


def run_one(spec: OriginSpec, work: Path, fit_workers: int = 1) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    built = build_origin(spec, work / "builds", fit_workers=fit_workers)
    result = score_origin(spec, built)
    log.info("%s: shipped %s, holds=%s (%.0f s)", spec.name, result["chosen_model"],
             result["holds"], result["build_seconds"])  # fmt: skip
    return result


def markdown(results: list[dict], wall_seconds: float) -> str:
    lines = [
        "| origin | customers | churn rate | shipped recipe | shipped AUC | shipped log loss "
        "| ECE | agg. error | best baseline AUC | best baseline log loss | holds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["scores"]["shipped"]
        lines.append(
            f"| {r['origin']} | {r['customers']:,} | {r['churn_rate']:.3f} | {r['chosen_model']} "
            f"| {s['auc']:.3f} | {s['log_loss']:.3f} | {s['ece']:.3f} "
            f"| {s['aggregate_error']:+.1%} | {r['best_baseline_auc']:.3f} "
            f"| {r['best_baseline_log_loss']:.3f} | {'yes' if r['holds'] else '**no**'} |"
        )
    held = sum(r["holds"] for r in results)
    auc_margin = np.mean([r["auc_margin"] for r in results])
    loss_margin = np.mean([r["log_loss_margin"] for r in results])
    lines += [
        "",
        f"The shipped model is at least as good as the best baseline (log loss within +0.005, "
        f"AUC within -0.01) at {held} of {len(results)} origins. Mean over origins: AUC "
        f"{auc_margin:+.4f} and log loss {loss_margin:+.4f} against the best baseline. "
        f"Wall time {wall_seconds / 60:.1f} min.",
    ]
    return "\n".join(lines)


def _fmt(metric: dict, key: str, pattern: str) -> str:
    value = metric.get(key)
    return "–" if value is None or np.isnan(value) else pattern.format(value)


def candidates_markdown(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines += [
            f"**{r['origin']}** (validation origins {', '.join(r['validation_origins'])}, "
            f"{r['selection_mode']})",
            "",
            "| model | AUC | log loss | ECE | agg. error |",
            "|---|---|---|---|---|",
        ]
        ranked = sorted(r["scores"].items(), key=lambda kv: kv[1].get("log_loss", 9.0))
        for name, m in ranked:
            lines.append(
                f"| {name} | {_fmt(m, 'auc', '{:.3f}')} | {_fmt(m, 'log_loss', '{:.3f}')} "
                f"| {_fmt(m, 'ece', '{:.3f}')} | {_fmt(m, 'aggregate_error', '{:+.1%}')} |"
            )
        lines.append("")
    return "\n".join(lines)


def _write(out: Path, results: list[dict], wall_seconds: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"wall_seconds": wall_seconds, "origins": results}, indent=1,
                              default=str))  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdnow", type=Path, default=REPO_ROOT.parent / "shared/datasets/cdnow")
    parser.add_argument("--quick", action="store_true", help="one CDNOW origin, one regime")
    parser.add_argument("--jobs", type=int, default=2, help="builds run at once")
    parser.add_argument(
        "--only",
        choices=["all", "cdnow", "regimes"],
        default="all",
        help="run only the CDNOW origins or only the generated regimes",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks/results/generalization.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not (args.cdnow / "CDNOW_master.txt").is_file():
        print(f"CDNOW_master.txt not found under {args.cdnow}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="generalization_") as tmp:
        work = Path(tmp)
        specs = origins(work, args.cdnow, args.quick, args.only)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        results = []
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            # the cores are shared between the builds that run at once
            workers = max(1, len(os.sched_getaffinity(0)) // args.jobs)
            for result in pool.map(run_one, specs, [work] * len(specs), [workers] * len(specs)):
                results.append(result)  # written as they finish: a long run keeps its origins
                _write(args.out, results, time.perf_counter() - started)
    wall = time.perf_counter() - started
    _write(args.out, results, wall)
    print(markdown(results, wall))
    print()
    print(candidates_markdown(results))
    return 0 if all(r["holds"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
