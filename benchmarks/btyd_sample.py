"""Accuracy and cost of fitting BTYD parameters on a deterministic customer sample.

At the latest labelled cutoff of a built warehouse, fits BG/NBD and Pareto/NBD on N
customers (BtydModel.fit's sample, as churn_btyd_max_fit_customers does), scores every
customer there, and compares with the labels (no purchase in the horizon) and with the
all-customer fit. The compiled objective is built once before the timings.

Usage: python benchmarks/btyd_sample.py <warehouse.duckdb> [--sizes 50000 25000 10000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import duckdb
import numpy as np

from retention.churn import metrics
from retention.churn.btyd import BtydModel, rfm_from_snapshots

LATEST_LABELLED_BUYERS = """
select customer_id, cutoff_date, order_days_count, days_since_first_order,
       days_since_last_order, revenue_total, is_churned
from marts.fct_customer_snapshots
where order_days_count >= 1
  and cutoff_date = (select max(cutoff_date) from marts.fct_customer_snapshots
                     where is_label_mature)
order by customer_id
"""


def compare(kind: str, rfm, labels: np.ndarray, sizes: list[int | None], horizon: int) -> None:
    BtydModel(kind).fit(rfm.iloc[:1000])  # compile the objective outside the timings
    reference = None
    for size in sizes:
        started = time.perf_counter()
        model = BtydModel(kind).fit(rfm, size)
        fit_seconds = time.perf_counter() - started
        scores = model.score(rfm, horizon)
        reference = reference or scores
        quality = metrics.probability_metrics(labels, scores.p_no_purchase)
        print(
            f"{kind} N={size or len(rfm)} fit {fit_seconds:.1f}s "
            f"log_loss {quality['log_loss']:.4f} auc {quality['auc']:.4f} "
            f"corr_p_alive {np.corrcoef(scores.p_alive, reference.p_alive)[0, 1]:.6f} "
            f"max_abs_dp0 {np.abs(scores.p_no_purchase - reference.p_no_purchase).max():.3f} "
            f"params { ({k: round(v, 4) for k, v in model.params_.items()}) }",
            flush=True,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 25_000, 10_000])
    parser.add_argument("--horizon-days", type=int, default=90)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    with duckdb.connect(args.database, read_only=True) as con:
        rows = con.sql(LATEST_LABELLED_BUYERS).df()
    rfm = rfm_from_snapshots(rows)
    labels = rows["is_churned"].astype(float).to_numpy()
    print(f"{len(rfm)} buyers at {rows['cutoff_date'].iloc[0]}, churn rate {labels.mean():.3f}")
    for kind in ("bg_nbd", "pareto_nbd"):
        compare(kind, rfm, labels, [None, *args.sizes], args.horizon_days)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
