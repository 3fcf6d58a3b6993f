"""Turn the CDNOW transaction log into the input contract (orders only).

CDNOW_master.txt (Fader & Hardie 2001) is whitespace-separated with a header
``customer_id date number_of_cds dollar_value``; dates are ``YYYYMMDD``. As in
the BTYD literature, rows of the same customer on the same day are merged into
one transaction (2,068 of the 69,659 rows are such repeats). The result is an
``orders.csv`` in a folder that dbt reads with ``--vars '{raw_path: ...}'``.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

DEFAULT_SOURCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "cdnow"
EXPECTED_COLUMNS = ["customer_id", "date", "number_of_cds", "dollar_value"]


@dataclass(frozen=True)
class CdnowLoadSummary:
    raw_rows: int
    orders: int
    customers: int
    merged_rows: int
    first_order: str
    last_order: str
    path: Path


def read_cdnow_master(path: Path) -> pd.DataFrame:
    """Read CDNOW_master.txt with ids kept as text and dates parsed strictly."""
    if not path.is_file():
        raise FileNotFoundError(
            f"CDNOW file not found: {path}. Pass --source with the path to CDNOW_master.txt."
        )
    frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    missing = [c for c in EXPECTED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; found {list(frame.columns)}")
    frame["ordered_date"] = pd.to_datetime(frame["date"], format="%Y%m%d", errors="raise")
    return frame


def to_orders(master: pd.DataFrame, merge_same_day: bool = True) -> pd.DataFrame:
    """Map CDNOW rows onto the orders contract.

    One order per customer-day when ``merge_same_day`` (the literature's
    convention); otherwise one order per raw row.
    """
    frame = master.copy()
    if merge_same_day:
        frame = frame.groupby(["customer_id", "ordered_date"], as_index=False).agg(
            number_of_cds=("number_of_cds", "sum"), dollar_value=("dollar_value", "sum")
        )
        frame["order_id"] = frame["customer_id"] + "-" + frame["ordered_date"].dt.strftime("%Y%m%d")
    else:
        frame = frame.reset_index(drop=True)
        frame["order_id"] = frame["customer_id"] + "-" + (frame.index + 1).astype(str)
    orders = pd.DataFrame(
        {
            "order_id": frame["order_id"],
            "customer_id": frame["customer_id"],
            "ordered_at": frame["ordered_date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "order_total": frame["dollar_value"].round(2).map(lambda v: f"{v:.2f}"),
        }
    )
    return orders.sort_values(["ordered_at", "order_id"], kind="stable").reset_index(drop=True)


def load_cdnow(source: Path, out_dir: Path, merge_same_day: bool = True) -> CdnowLoadSummary:
    """Write ``out_dir/orders.csv`` from ``source`` (CDNOW_master.txt or its folder)."""
    master_path = source / "CDNOW_master.txt" if source.is_dir() else source
    master = read_cdnow_master(master_path)
    orders = to_orders(master, merge_same_day=merge_same_day)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "orders.csv"
    orders.to_csv(target, index=False)
    return CdnowLoadSummary(
        raw_rows=len(master),
        orders=len(orders),
        customers=orders["customer_id"].nunique(),
        merged_rows=len(master) - len(orders),
        first_order=orders["ordered_at"].min(),
        last_order=orders["ordered_at"].max(),
        path=target,
    )


# ---------- CLI: `retention load-cdnow`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="CDNOW_master.txt or the folder holding it (default: ../shared/datasets/cdnow)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data/cdnow"), help="folder to write orders.csv into"
    )
    parser.add_argument(
        "--no-merge-same-day",
        action="store_true",
        help="keep one order per raw row instead of one per customer-day",
    )


def run(args: argparse.Namespace) -> int:
    summary = load_cdnow(args.source, args.out, merge_same_day=not args.no_merge_same_day)
    print(
        f"CDNOW: {summary.raw_rows:,} raw rows -> {summary.orders:,} orders "
        f"({summary.merged_rows:,} same-day rows merged), {summary.customers:,} customers, "
        f"{summary.first_order[:10]} .. {summary.last_order[:10]}\n"
        f"wrote {summary.path}\n"
        f"build: dbt build --vars '{{raw_path: {summary.path.parent.resolve()}, "
        f"enable_customers: false, enable_order_items: false, enable_products: false, "
        f"enable_events: false}}'"
    )
    return 0
