"""The purchase log as integer arrays, what a recommender may see at a cutoff, and what
the customers bought in the window after it.

Time rule (README, "Recommendations"): a recommender at cutoff ``c`` is fitted on purchases
on days ``< c`` only (:meth:`PurchaseLog.history`); the hits it is scored on are the completed
purchases in ``[c, c + horizon)`` (:meth:`PurchaseLog.window`). Nothing else reads the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

EPOCH = dt.date(1970, 1, 1)
LINE_COLUMNS = [
    "customer_id",
    "product_id",
    "purchased_date",
    "completed_orders",
    "returned_orders",
]
PRODUCT_COLUMNS = ["product_id", "category"]


def day_number(value) -> int:
    """Days since 1970-01-01 of a date, datetime or ISO string."""
    return (pd.Timestamp(value).date() - EPOCH).days


def day_date(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(number))


@dataclass(frozen=True)
class PurchaseLog:
    """One row per customer x product x day with a completed or returned order.

    Customers and products are coded 0..n-1 (``customer_ids[code]``). Products of the
    catalogue (``stg_shop__products``) come first; products only seen in orders follow and
    are never recommended (``in_catalog`` false), but still count as purchases.
    """

    customer_ids: np.ndarray  # str per customer code
    product_ids: np.ndarray  # str per product code
    category: np.ndarray  # str per product code ("" when unknown)
    in_catalog: np.ndarray  # bool per product code
    customer: np.ndarray  # int32 per line
    product: np.ndarray  # int32 per line
    day: np.ndarray  # int32 per line: days since 1970-01-01
    completed: np.ndarray  # bool per line: a completed order (else only returned ones)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    @classmethod
    def from_frames(
        cls, lines: pd.DataFrame, products: pd.DataFrame, extra_customers=()
    ) -> PurchaseLog:
        """From ``int_customer_product_days_aggregated`` and ``stg_shop__products`` columns;
        ``extra_customers`` are coded too (lists for customers with no purchases yet)."""
        missing = [c for c in LINE_COLUMNS if c not in lines.columns]
        if missing:
            raise ValueError(f"purchase lines lack columns {missing}")
        # Hash-based (pandas) on the string ids: numpy's set routines on object arrays
        # compare element by element and took 36 s for 20k products at 100k customers.
        # Codes are canonical (sorted by id), never the order the warehouse returned the
        # rows in: DuckDB's parallel scans vary it, and the product codes break score ties
        # and key the run_id, so a rebuild on the same data must code the same. (Customers
        # are sorted below; the fingerprint sorts the lines itself.)
        catalog = (
            products.assign(product_id=products["product_id"].astype(str))
            .sort_values("product_id", kind="stable")
            .drop_duplicates("product_id")
        )
        catalog_ids = pd.Index(catalog["product_id"].astype(str).to_numpy(dtype=object))
        line_products = lines["product_id"].astype(str).to_numpy(dtype=object)
        extra = pd.Index(pd.unique(line_products)).difference(catalog_ids).sort_values()
        product_ids = np.concatenate([catalog_ids.to_numpy(), extra.to_numpy(dtype=object)])
        category = np.concatenate(
            [
                catalog["category"].fillna("").astype(str).to_numpy(dtype=object),
                np.full(extra.size, "", dtype=object),
            ]
        )
        in_catalog = np.arange(product_ids.size) < catalog_ids.size
        product_code = pd.Index(product_ids).get_indexer(line_products)
        line_customers = lines["customer_id"].astype(str).to_numpy(dtype=object)
        customers = pd.Index(pd.unique(line_customers)).union(
            pd.Index(np.asarray(extra_customers, dtype=object))
        )
        customer_ids = customers.sort_values().to_numpy(dtype=object)
        customer_code = pd.Index(customer_ids).get_indexer(line_customers)
        days = (
            pd.to_datetime(lines["purchased_date"])
            .to_numpy()
            .astype("datetime64[D]")
            .astype(np.int64)
        )
        return cls(
            customer_ids=customer_ids,
            product_ids=product_ids,
            category=category,
            in_catalog=in_catalog,
            customer=customer_code.astype(np.int32),
            product=product_code.astype(np.int32),
            day=days.astype(np.int32),
            completed=lines["completed_orders"].fillna(0).to_numpy() > 0,
        )

    def fingerprint(self) -> str:
        """sha256 of the log's content (the registry keys runs by it)."""
        digest = hashlib.sha256()
        order = np.lexsort((self.day, self.product, self.customer))
        for array in (
            self.customer[order],
            self.product[order],
            self.day[order],
            self.completed[order],
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\n".join(self.customer_ids).encode())
        digest.update("\n".join(self.product_ids).encode())
        return digest.hexdigest()

    def history(self, cutoff: int) -> History:
        """Everything a recommender at ``cutoff`` may use: purchases on days before it."""
        before = self.day < cutoff
        return History(self, cutoff, np.flatnonzero(before))

    def window(self, cutoff: int, horizon_days: int) -> sp.csr_matrix:
        """customers x products, 1 where the customer completed a purchase of the product in
        [cutoff, cutoff + horizon): the hits."""
        inside = (self.day >= cutoff) & (self.day < cutoff + horizon_days) & self.completed
        return _binary(
            self.customer[inside], self.product[inside], self.n_customers, self.n_products
        )


def _binary(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


@dataclass
class History:
    """The log before a cutoff, with the matrices the recommenders share (built lazily)."""

    log: PurchaseLog
    cutoff: int
    rows: np.ndarray  # line indices with day < cutoff
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_customers(self) -> int:
        return self.log.n_customers

    @property
    def n_products(self) -> int:
        return self.log.n_products

    def lines(self, completed_only: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(customer, product, day) of the lines before the cutoff."""
        rows = self.rows
        if completed_only:
            rows = rows[self.log.completed[rows]]
        return self.log.customer[rows], self.log.product[rows], self.log.day[rows]

    @property
    def purchase_days(self) -> sp.csr_matrix:
        """customers x products: distinct days with a completed purchase (float32)."""
        if "days" not in self._cache:
            c, p, _ = self.lines()
            matrix = sp.csr_matrix(
                (np.ones(c.size, dtype=np.float32), (c, p)),
                shape=(self.n_customers, self.n_products),
            )
            matrix.sum_duplicates()
            self._cache["days"] = matrix
        return self._cache["days"]

    @property
    def owned(self) -> sp.csr_matrix:
        """customers x products: 1 where the customer ordered it (completed or returned)."""
        if "owned" not in self._cache:
            c, p, _ = self.lines(completed_only=False)
            self._cache["owned"] = _binary(c, p, self.n_customers, self.n_products)
        return self._cache["owned"]

    @property
    def buyers(self) -> np.ndarray:
        """Customer codes with at least one completed purchase before the cutoff."""
        if "buyers" not in self._cache:
            self._cache["buyers"] = np.flatnonzero(np.diff(self.purchase_days.indptr) > 0)
        return self._cache["buyers"]

    def last_purchase_day(self) -> np.ndarray:
        """Per customer: the last day with a completed purchase (-1 = none)."""
        if "last_day" not in self._cache:
            c, _, d = self.lines()
            last = np.full(self.n_customers, -1, dtype=np.int64)
            np.maximum.at(last, c, d)
            self._cache["last_day"] = last
        return self._cache["last_day"]

    def pair_stats(self) -> pd.DataFrame:
        """One row per customer x product bought (completed) before the cutoff: the number
        of distinct purchase days, the first and last day, and the median gap in days
        between consecutive purchase days (NaN when bought on one day only)."""
        if "pairs" not in self._cache:
            c, p, d = self.lines()
            frame = pd.DataFrame({"customer": c, "product": p, "day": d}).drop_duplicates()
            frame = frame.sort_values(["customer", "product", "day"], kind="stable")
            same = (frame["customer"].diff().eq(0)) & (frame["product"].diff().eq(0))
            frame["gap"] = frame["day"].diff().where(same)
            grouped = frame.groupby(["customer", "product"], sort=True)
            stats = grouped.agg(
                days=("day", "size"),
                first_day=("day", "min"),
                last_day=("day", "max"),
                median_gap=("gap", "median"),
            ).reset_index()
            self._cache["pairs"] = stats
        return self._cache["pairs"]


def contains(matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For a (b, L) block of item codes (-1 = empty), one row per user of ``users``: True
    where ``matrix[user, item]`` is stored (owned products, hits in a window)."""
    rows = matrix[users]
    width = matrix.shape[1]
    keys = np.repeat(np.arange(len(users), dtype=np.int64), np.diff(rows.indptr)) * width
    keys = np.sort(keys + rows.indices)
    query = np.arange(len(users), dtype=np.int64)[:, None] * width + np.maximum(items, 0)
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    return (keys.size > 0) & (keys[pos] == query) & (items >= 0)
