"""CDNOW real-data benchmark: the literature protocol (for comparison with papers).

Protocol 2 of ../shared/datasets/cdnow/README.md: cutoff 1997-10-01, label = any purchase
in the next 39 weeks, 5-fold stratified cross-validation across customers (AUC). The
feature spine is built with dbt (orders only); the models here are refitted per fold,
because the protocol is cross-validation at one cutoff, not what a build ships.

The production protocol (as_of 1998-04-01, and every month before it, at H = 90 and 30)
is measured on what `dbt build` ships, in benchmarks/generalization.py.

Usage: python benchmarks/cdnow_backtest.py [--cdnow PATH] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from retention.churn import metrics
from retention.churn.btyd import BtydModel, rfm_from_snapshots
from retention.churn.candidates import build_candidate, positive_proba
from retention.churn.frames import LABEL_COLUMN, feature_columns, prepare_snapshots
from retention.dbt_runner import REPO_ROOT, query, run_dbt
from retention.loaders.cdnow import load_cdnow

log = logging.getLogger("cdnow_backtest")
T = pd.Timestamp("1998-04-01")
HORIZON = 90
LITERATURE_CUTOFF = pd.Timestamp("1997-10-01")
LITERATURE_HORIZON = 273  # 39 weeks: 1997-10-01 .. 1998-06-30
ORDERS_ONLY = {
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}
METRIC_COLUMNS = ["auc", "pr_auc", "log_loss", "brier", "ece", "lift_top_decile", "aggregate_error"]


def build_snapshots(raw: Path, work: Path, name: str, dbt_vars: dict) -> pd.DataFrame:
    db = work / f"{name}.duckdb"
    started = time.perf_counter()
    run_dbt(
        [
            "build",
            "--select",
            "+fct_customer_snapshots",
            "--exclude",
            "test_type:unit",
            "--indirect-selection",
            "cautious",
        ],
        db,
        dbt_vars={"raw_path": str(raw), **ORDERS_ONLY, **dbt_vars},
        timeout=1800,
    )
    log.info("%s: dbt build of the feature spine in %.1fs", name, time.perf_counter() - started)
    rows = query(db, "select * from marts.fct_customer_snapshots")
    columns = [c[0] for c in query(db, "describe marts.fct_customer_snapshots")]
    return pd.DataFrame(rows, columns=columns)


def literature_protocol(raw: Path, work: Path) -> dict:
    as_of = LITERATURE_CUTOFF + pd.Timedelta(days=LITERATURE_HORIZON)
    snapshots = build_snapshots(
        raw, work, "literature",
        {"as_of_date": str(as_of.date()), "churn_horizon_days": LITERATURE_HORIZON,
         "max_training_snapshots": 1, "min_history_days": 28},
    )  # fmt: skip
    frame = prepare_snapshots(snapshots)
    at_cutoff = frame[frame["cutoff_date"] == LITERATURE_CUTOFF].reset_index(drop=True)
    y = at_cutoff[LABEL_COLUMN].astype(float).to_numpy()  # 1 = no purchase in 39 weeks
    rows = {"recency": metrics.ranking_metrics(y, at_cutoff["days_since_last_order"])["auc"]}
    rfm = rfm_from_snapshots(at_cutoff)
    bg = BtydModel("bg_nbd").fit(rfm).score(rfm, LITERATURE_HORIZON)
    rows["BG/NBD expected purchases"] = metrics.ranking_metrics(y, -bg.expected_purchases)["auc"]
    rows["BG/NBD P(no purchase)"] = metrics.ranking_metrics(y, bg.p_no_purchase)["auc"]
    numeric, categorical = feature_columns(at_cutoff)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    for name in ("hist_gradient_boosting", "logistic_regression"):
        out = np.empty(len(y))
        for fit_idx, test_idx in folds.split(at_cutoff, y):
            model = build_candidate(name, numeric, categorical, 42)
            model.fit(at_cutoff.iloc[fit_idx][numeric + categorical], y[fit_idx])
            out[test_idx] = positive_proba(model, at_cutoff.iloc[test_idx][numeric + categorical])
        rows[name] = metrics.ranking_metrics(y, out)["auc"]
    return {"customers": len(y), "churn_rate": float(y.mean()), "auc": rows}


def markdown(lit: dict) -> str:
    lines = [
        f"Protocol 2, literature: cutoff {LITERATURE_CUTOFF.date()}, label = no purchase in the "
        f"next 39 weeks, 5-fold stratified CV; {lit['customers']:,} customers, churn rate "
        f"{lit['churn_rate']:.3f}.",
        "",
        "| score | AUC |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.3f} |" for k, v in lit["auc"].items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdnow", type=Path, default=REPO_ROOT.parent / "shared/datasets/cdnow")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks/results/cdnow_literature.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("pymc", "pytensor", "arviz"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not (args.cdnow / "CDNOW_master.txt").is_file():
        print(f"CDNOW_master.txt not found under {args.cdnow}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cdnow_bench_") as tmp:
        work = Path(tmp)
        load_cdnow(args.cdnow, work / "raw")
        results = literature_protocol(work / "raw", work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
