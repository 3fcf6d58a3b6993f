"""CDNOW real-data benchmark: the production backtest and the literature protocol.

Both protocols are described in ../shared/datasets/cdnow/README.md.

Protocol 1 (production backtest): as_of T = 1998-04-01, horizon 90 days. The
warehouse is built with as_of_date = T, so every feature and every training
label comes from before T; the churn model is trained exactly as
`ml_churn_training` trains it (purged out-of-time validation on the latest
mature cutoff, selection by log loss, calibration, refit). Only then are the
actual outcomes in [T, T + 90 d) read from the raw file, to score:
  - every baseline (recency, constant, BG/NBD, Pareto/NBD) fitted at T,
  - every candidate refitted on all mature cutoffs (uncalibrated),
  - the shipped model (chosen + calibrated).
Protocol 2 (literature): cutoff 1997-10-01, label = any purchase in the next
39 weeks, 5-fold stratified cross-validation across customers (AUC).

Usage: python benchmarks/cdnow_backtest.py [--cdnow PATH] [--out results.json] [--stack-btyd]
Prints markdown tables (pasted into BENCHMARKS.md) and writes JSON results.
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from retention.churn import metrics  # noqa: E402
from retention.churn.btyd import BtydModel, rfm_from_snapshots  # noqa: E402
from retention.churn.candidates import build_candidate, positive_proba  # noqa: E402
from retention.churn.frames import LABEL_COLUMN, feature_columns, prepare_snapshots  # noqa: E402
from retention.churn.training import TrainingConfig, add_btyd_features, train_churn_model  # noqa: E402
from retention.dbt_runner import REPO_ROOT, query, run_dbt  # noqa: E402
from retention.loaders.cdnow import load_cdnow  # noqa: E402

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


def outcomes(raw: Path, start: pd.Timestamp, days: int) -> set[str]:
    orders = pd.read_csv(raw / "orders.csv", dtype={"customer_id": str})
    at = pd.to_datetime(orders["ordered_at"])
    inside = (at >= start) & (at < start + pd.Timedelta(days=days))
    return set(orders.loc[inside, "customer_id"])


def bootstrap_auc(y, p, q=None, n=300, seed=0):
    """95% half-width of AUC (and of AUC(p) - AUC(q) when q is given)."""
    rng = np.random.default_rng(seed)
    draws, diffs = [], []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        a = metrics.ranking_metrics(y[idx], p[idx])["auc"]
        draws.append(a)
        if q is not None:
            diffs.append(a - metrics.ranking_metrics(y[idx], q[idx])["auc"])
    half = (np.percentile(draws, 97.5) - np.percentile(draws, 2.5)) / 2
    diff = (np.percentile(diffs, 2.5), np.percentile(diffs, 97.5)) if diffs else None
    return float(half), diff


def production_backtest(raw: Path, work: Path, stack_btyd: bool, T: pd.Timestamp = T) -> dict:
    snapshots = build_snapshots(
        raw, work, f"backtest_{T.date()}",
        {"as_of_date": str(T.date()), "churn_horizon_days": HORIZON, "snapshot_every_days": 28,
         "min_history_days": 28, "max_training_snapshots": 20},
    )  # fmt: skip
    started = time.perf_counter()
    config = TrainingConfig(horizon_days=HORIZON, stack_btyd=stack_btyd)
    result = train_churn_model(snapshots, config)
    train_seconds = time.perf_counter() - started

    frame = prepare_snapshots(snapshots)
    if stack_btyd:
        frame = add_btyd_features(frame, HORIZON)
    mature = frame[frame["is_label_mature"].astype(bool)]
    at_t = frame[frame["is_scoring_cutoff"].astype(bool)].reset_index(drop=True)
    assert (at_t["cutoff_date"] == T).all() and mature["label_window_end_date"].max() <= T
    buyers = outcomes(raw, T, HORIZON)
    y = (~at_t["customer_id"].isin(buyers)).to_numpy(dtype=float)

    rows = {}
    rows["recency (days since last purchase)"] = metrics.ranking_metrics(
        y, at_t["days_since_last_order"].to_numpy()
    )
    c0 = mature[mature["cutoff_date"] == mature["cutoff_date"].max()]
    rows["constant (c_0 churn rate)"] = metrics.probability_metrics(
        y, np.full(len(y), c0[LABEL_COLUMN].astype(float).mean())
    )
    rfm = rfm_from_snapshots(at_t)
    for kind, label in (("bg_nbd", "BG/NBD"), ("pareto_nbd", "Pareto/NBD")):
        scores = BtydModel(kind).fit(rfm).score(rfm, HORIZON)
        if kind == "bg_nbd":
            rows["BG/NBD 1 - P(alive) (wrong sign for one-time buyers)"] = (
                metrics.probability_metrics(y, 1 - scores.p_alive)
            )
        rows[f"{label} P(no purchase in H)"] = metrics.probability_metrics(y, scores.p_no_purchase)

    numeric, categorical = feature_columns(frame, mature)
    plain = [c for c in numeric if not c.startswith("btyd_")]
    y_mature = mature[LABEL_COLUMN].astype(float).to_numpy()
    for name in config.candidates:
        pipeline = build_candidate(name, plain, categorical, config.seed)
        pipeline.fit(mature[plain + categorical], y_mature)
        rows[f"{name} (refit on all cutoffs, uncalibrated)"] = metrics.probability_metrics(
            y, positive_proba(pipeline, at_t[plain + categorical])
        )
    chosen, calibration = result.run["chosen_model"], result.run["calibration"]
    refit = build_candidate(chosen, result.challenger.numeric, categorical, config.seed)
    refit.fit(mature[result.challenger.features], y_mature)
    shipped = result.challenger.predict(at_t)
    variants = {
        f"**shipped: {chosen}, {calibration} calibration, final_model={result.run['final_model']}**": shipped,
        f"{chosen} purged-trained + {calibration}, as validated": result.validated.predict(at_t),
        f"{chosen} refit + {calibration} learned on the purged fit": result.validated.calibrator.transform(
            positive_proba(refit, at_t[result.challenger.features])
        ),
        f"{chosen} refit, uncalibrated": positive_proba(refit, at_t[result.challenger.features]),
    }
    for name, score in variants.items():
        rows[name] = metrics.probability_metrics(y, score)

    best_baseline = max((k for k in rows if "P(no purchase" in k), key=lambda k: rows[k]["auc"])
    rfm_best = "pareto_nbd" if best_baseline.startswith("Pareto") else "bg_nbd"
    baseline_scores = BtydModel(rfm_best).fit(rfm).score(rfm, HORIZON).p_no_purchase
    half, diff = bootstrap_auc(y, shipped, baseline_scores)
    validation = result.evaluation[["model_name", "model_kind", *METRIC_COLUMNS]]
    return {
        "T": str(T.date()),
        "eligible_customers": len(y),
        "base_rate_at_T": float(y.mean()),
        "base_rate_at_c0": float(c0[LABEL_COLUMN].astype(float).mean()),
        "validation_cutoff": str(result.run["validation_cutoff"].date()),
        "training_cutoffs": result.run["training_cutoffs"],
        "purged_training_cutoffs": result.run["purged_training_cutoffs"],
        "chosen_model": result.run["chosen_model"],
        "calibration": result.run["calibration"],
        "train_seconds": train_seconds,
        "timings": result.timings,
        "at_T": rows,
        "best_baseline": best_baseline,
        "shipped_auc_bootstrap_half_width": half,
        "shipped_minus_best_baseline_auc_95ci": diff,
        "validation": validation.to_dict(orient="records"),
    }


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


def markdown(results: dict) -> str:
    lines = []
    for key, bt in results.items():
        if key.startswith("production_backtest"):
            lines += backtest_markdown(bt)
    lit = results["literature_protocol"]
    lines += [
        f"Protocol 2, literature: cutoff {LITERATURE_CUTOFF.date()}, label = no purchase in the "
        f"next 39 weeks, 5-fold stratified CV; {lit['customers']:,} customers, churn rate "
        f"{lit['churn_rate']:.3f}.",
        "",
        "| score | AUC |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.3f} |" for k, v in lit["auc"].items()]
    return "\n".join(lines)


def backtest_markdown(bt: dict) -> list[str]:
    lines = [
        f"Production backtest at T = {bt['T']}, H = {HORIZON} days; "
        f"{bt['eligible_customers']:,} eligible customers; base churn rate "
        f"{bt['base_rate_at_T']:.3f} at T and {bt['base_rate_at_c0']:.3f} at c_0 "
        f"({bt['validation_cutoff']}); {bt['training_cutoffs']} mature cutoffs, "
        f"{bt['purged_training_cutoffs']} of them purged-safe for selection.",
        "",
        "| score (at T) | AUC | PR-AUC | log loss | Brier | ECE | lift@10% | agg. error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in bt["at_T"].items():

        def f(key, fmt="{:.3f}", m=m):
            v = m.get(key)
            return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)

        lines.append(
            f"| {name} | {f('auc')} | {f('pr_auc')} | {f('log_loss')} | {f('brier')} | "
            f"{f('ece')} | {f('lift_top_decile', '{:.2f}')} | {f('aggregate_error', '{:+.1%}')} |"
        )
    lo, hi = bt["shipped_minus_best_baseline_auc_95ci"]
    lines += [
        "",
        f"Shipped model AUC bootstrap 95% half-width: ±{bt['shipped_auc_bootstrap_half_width']:.3f}; "
        f"AUC(shipped) − AUC({bt['best_baseline']}) 95% CI: [{lo:+.3f}, {hi:+.3f}]. "
        f"Training (all candidates, baselines, calibration, refit): {bt['train_seconds']:.0f} s.",
        "",
    ]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdnow", type=Path, default=REPO_ROOT.parent / "shared/datasets/cdnow")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks/results/cdnow_backtest.json"
    )
    parser.add_argument("--stack-btyd", action="store_true", help="add the stacked HGB candidate")
    parser.add_argument(
        "--as-of", nargs="+", default=[str(T.date())],
        help="backtest dates; 1998-01-01 is the development backtest (outcomes before T)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("pymc", "pytensor", "arviz"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not (args.cdnow / "CDNOW_master.txt").is_file():
        print(f"CDNOW_master.txt not found under {args.cdnow}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cdnow_bench_") as tmp:
        work = Path(tmp)
        os.environ["RETENTION_ARTIFACTS"] = str(work / "artifacts")
        load_cdnow(args.cdnow, work / "raw")
        results = {
            f"production_backtest_{as_of}": production_backtest(
                work / "raw", work, args.stack_btyd, pd.Timestamp(as_of)
            )
            for as_of in args.as_of
        }
        results["literature_protocol"] = literature_protocol(work / "raw", work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
