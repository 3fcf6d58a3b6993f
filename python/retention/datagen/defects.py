"""Defect injection (``--defect-rate``) and valid mixed time-zone offsets.

For every table and block of customers (with its own random stream, so the result does not
depend on the chunk size) ``Binomial(rows, rate)`` distinct rows are picked and each gets one
defect class, uniformly among the classes that apply to the table:

* in place: ``null_key``, ``unparseable_timestamp``, ``future_timestamp``,
  ``non_numeric_amount``, ``negative_amount``, ``unknown_event_type``;
* appended right after the block's rows: ``exact_duplicate`` (a copy of the picked row),
  ``key_duplicate`` (same key, one value changed) and ``orphan_order_item`` (a copy of an order
  item pointing to an order that does not exist).

Every defect is recorded in ``ground_truth/defects`` with the 1-based position of the defective
row in its table as written (``defect_row_number``), the natural key of the row it was made
from, the column touched, and the original and written values.

Independently, a share of the remaining timestamps is written as ISO-8601 with an explicit UTC
offset (``2024-03-01T14:00:00+02:00``) denoting the same instant — valid data, counted in
``generation_params.json``, not recorded as defects.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retention.datagen.params import COUNTRIES, TRUTH_DEFECT_COLUMNS

NULL_KEY = "null_key"
UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
NON_NUMERIC_AMOUNT = "non_numeric_amount"
NEGATIVE_AMOUNT = "negative_amount"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
ORPHAN_ORDER_ITEM = "orphan_order_item"
EXACT_DUPLICATE = "exact_duplicate"
KEY_DUPLICATE = "key_duplicate"

DEFECT_CLASSES: tuple[str, ...] = (
    NULL_KEY,
    UNPARSEABLE_TIMESTAMP,
    FUTURE_TIMESTAMP,
    NON_NUMERIC_AMOUNT,
    NEGATIVE_AMOUNT,
    UNKNOWN_EVENT_TYPE,
    ORPHAN_ORDER_ITEM,
    EXACT_DUPLICATE,
    KEY_DUPLICATE,
)
APPENDED_CLASSES = frozenset({EXACT_DUPLICATE, KEY_DUPLICATE, ORPHAN_ORDER_ITEM})

UNPARSEABLE_VALUES = ("not-a-date", "2024-13-45 25:61:00", "0000-00-00 00:00:00")
UNKNOWN_EVENT_VALUE = "hover"
#: UTC offsets (minutes) used for the valid mixed-time-zone timestamps.
TZ_OFFSETS_MIN = np.array([-480, -300, -240, 60, 120, 180, 330, 540, 600], dtype=np.int64)

_TS_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class TableDefectSpec:
    """Which columns of a table the defect classes touch."""

    code: int  # stable number used to derive the random stream
    key: tuple[str, ...]  # natural key (recorded as ``key_value``, joined by "|")
    null_column: str  # the key column set to null by ``null_key``
    timestamp: str | None
    amount: str | None
    changed: str  # the column a ``key_duplicate`` changes
    classes: tuple[str, ...]


SPECS: dict[str, TableDefectSpec] = {
    "customers": TableDefectSpec(
        1, ("customer_id",), "customer_id", "signup_at", None, "country",
        (NULL_KEY, UNPARSEABLE_TIMESTAMP, FUTURE_TIMESTAMP, EXACT_DUPLICATE, KEY_DUPLICATE),
    ),
    "orders": TableDefectSpec(
        2, ("order_id",), "order_id", "ordered_at", "order_total", "order_total",
        (NULL_KEY, UNPARSEABLE_TIMESTAMP, FUTURE_TIMESTAMP, NON_NUMERIC_AMOUNT, NEGATIVE_AMOUNT,
         EXACT_DUPLICATE, KEY_DUPLICATE),
    ),
    "order_items": TableDefectSpec(
        3, ("order_id", "product_id"), "order_id", None, "unit_price", "quantity",
        (NULL_KEY, NON_NUMERIC_AMOUNT, NEGATIVE_AMOUNT, ORPHAN_ORDER_ITEM, EXACT_DUPLICATE,
         KEY_DUPLICATE),
    ),
    "products": TableDefectSpec(
        4, ("product_id",), "product_id", None, "price", "price",
        (NULL_KEY, NON_NUMERIC_AMOUNT, NEGATIVE_AMOUNT, EXACT_DUPLICATE, KEY_DUPLICATE),
    ),
    "events": TableDefectSpec(
        5, ("event_id",), "event_id", "event_at", None, "event_at",
        (NULL_KEY, UNPARSEABLE_TIMESTAMP, FUTURE_TIMESTAMP, UNKNOWN_EVENT_TYPE, EXACT_DUPLICATE,
         KEY_DUPLICATE),
    ),
}  # fmt: skip


def with_offset(utc: str, offset_min: int) -> str:
    """The instant ``utc`` (``YYYY-MM-DD HH:MM:SS``) written in local time with a UTC offset."""
    local = dt.datetime.strptime(utc, _TS_FORMAT) + dt.timedelta(minutes=offset_min)
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{local:%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{minutes:02d}"


def _add_cents(amount: str, cents: int) -> str:
    value = round(float(amount) * 100) + cents
    return f"{value / 100:.2f}"


def _future(ts: str) -> str:
    out = "2099" + ts[4:]
    return out.replace("2099-02-29", "2099-02-28", 1)


@dataclass(frozen=True)
class _Plan:
    """Defects and offsets picked for one table chunk (indices into the input table)."""

    rows: np.ndarray  # input row of each defect
    out_pos: np.ndarray  # output position of the defective row (in the chunk)
    classes: list[str]
    variant: np.ndarray  # uniform draw choosing between variants of a class
    tz_rows: np.ndarray
    tz_out_pos: np.ndarray
    tz_offsets: np.ndarray
    take: np.ndarray  # input rows in output order (appended copies included)


class DefectInjector:
    """Injects defects chunk by chunk and keeps the global row numbers and counts."""

    def __init__(self, seed: int, rate: float, tz_share: float, order_width: int) -> None:
        self.seed = seed
        self.rate = rate
        self.tz_share = tz_share
        self.rows_written: Counter[str] = Counter()
        self.defect_counts: Counter[tuple[str, str]] = Counter()
        self.tz_counts: Counter[str] = Counter()
        # orphan items point to the highest order numbers of the id width, counting down
        # (real orders count up from 1; `generate` checks that the two never meet)
        self._next_orphan = 10**order_width - 1
        self._order_width = order_width

    @property
    def lowest_orphan_number(self) -> int:
        """The smallest order number used by an orphan item so far (no orphan: above all)."""
        return self._next_orphan + 1

    def _plan(self, name: str, segments: list[tuple[int, int]]) -> _Plan:
        spec = SPECS[name]
        rows, out_pos, variant, tz_rows, tz_pos, tz_off, take = [], [], [], [], [], [], []
        classes: list[str] = []
        in_off = out_off = 0
        for block_index, n in segments:
            rng = np.random.default_rng([self.seed, 2, spec.code, block_index])
            n_def = int(rng.binomial(n, self.rate)) if n else 0
            picked = (
                np.sort(rng.choice(n, size=n_def, replace=False)) if n_def else np.zeros(0, int)
            )
            cls = [spec.classes[i] for i in rng.integers(0, len(spec.classes), n_def)]
            var = rng.random(n_def)
            appended = np.array([c in APPENDED_CLASSES for c in cls], dtype=bool)
            pos = picked.copy()
            pos[appended] = n + np.arange(int(appended.sum()))
            rows.append(in_off + picked)
            out_pos.append(out_off + pos)
            classes.extend(cls)
            variant.append(var)
            take.append(np.arange(in_off, in_off + n))
            take.append(in_off + picked[appended])
            if spec.timestamp is not None and n:
                mask = rng.random(n) < self.tz_share
                mask[picked] = False
                tz = np.flatnonzero(mask)
                tz_rows.append(in_off + tz)
                tz_pos.append(out_off + tz)
                tz_off.append(TZ_OFFSETS_MIN[rng.integers(0, TZ_OFFSETS_MIN.size, tz.size)])
            in_off += n
            out_off += n + int(appended.sum())

        def cat(parts: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return _Plan(
            rows=cat(rows),
            out_pos=cat(out_pos),
            classes=classes,
            variant=cat(variant, np.float64),
            tz_rows=cat(tz_rows),
            tz_out_pos=cat(tz_pos),
            tz_offsets=cat(tz_off),
            take=cat(take),
        )

    def apply(
        self, name: str, table: pa.Table, segments: list[tuple[int, int]]
    ) -> tuple[pa.Table, pa.Table]:
        """Corrupt one chunk of ``name`` (all-string columns; ``segments`` = (block, rows)).

        Returns the table as it must be written and the defect records of the chunk.
        """
        spec = SPECS[name]
        plan = self._plan(name, segments)
        original = {
            col: table.column(col).take(pa.array(plan.rows)).to_pylist()
            for col in table.column_names
        }
        mods: dict[str, dict[int, str | None]] = {}
        records: dict[str, list] = {col: [] for col in TRUTH_DEFECT_COLUMNS}
        base = self.rows_written[name]
        for i, (cls, pos, var) in enumerate(
            zip(plan.classes, plan.out_pos.tolist(), plan.variant.tolist(), strict=True)
        ):
            column, written = self._corrupt(spec, cls, var, {c: v[i] for c, v in original.items()})
            if column is not None:
                mods.setdefault(column, {})[pos] = written
            records["table"].append(name)
            records["defect_row_number"].append(base + pos + 1)
            records["key_value"].append("|".join(str(original[k][i]) for k in spec.key))
            records["column"].append(column)
            records["defect_class"].append(cls)
            records["original_value"].append(original[column][i] if column else None)
            records["written_value"].append(written)
            self.defect_counts[(name, cls)] += 1
        if spec.timestamp is not None and plan.tz_rows.size:
            stamps = table.column(spec.timestamp).take(pa.array(plan.tz_rows)).to_pylist()
            col_mods = mods.setdefault(spec.timestamp, {})
            for pos, ts, off in zip(
                plan.tz_out_pos.tolist(), stamps, plan.tz_offsets.tolist(), strict=True
            ):
                col_mods[pos] = with_offset(ts, off)
            self.tz_counts[name] += plan.tz_rows.size

        out = table.take(pa.array(plan.take))
        for column, values in mods.items():
            positions = sorted(values)
            mask = np.zeros(out.num_rows, dtype=bool)
            mask[positions] = True
            col = out.column(column).combine_chunks()
            new = pc.replace_with_mask(
                col, pa.array(mask), pa.array([values[p] for p in positions], type=pa.string())
            )
            out = out.set_column(out.column_names.index(column), column, new)
        self.rows_written[name] += out.num_rows
        schema = pa.schema(
            [
                (c, pa.int64() if c == "defect_row_number" else pa.string())
                for c in TRUTH_DEFECT_COLUMNS
            ]
        )
        return out, pa.table(records, schema=schema)

    def _corrupt(
        self, spec: TableDefectSpec, cls: str, variant: float, row: dict[str, str | None]
    ) -> tuple[str | None, str | None]:
        """(column changed, value written) of one defect; ``(None, None)`` for exact copies."""
        if cls == EXACT_DUPLICATE:
            return None, None
        if cls == ORPHAN_ORDER_ITEM:
            orphan = f"o{self._next_orphan:0{self._order_width}d}"
            self._next_orphan -= 1
            return "order_id", orphan
        if cls == KEY_DUPLICATE:
            changed = _another_version(spec.changed, str(row[spec.changed]), variant)
            if changed is None:
                raise ValueError(f"defect class {cls!r} does not apply to this table")
            return spec.changed, changed
        return _bad_value(spec, cls, variant, row)


def _bad_value(
    spec: TableDefectSpec, cls: str, variant: float, row: dict[str, str | None]
) -> tuple[str | None, str | None]:
    """(column, value) of a defect that makes one value invalid."""
    if cls == NULL_KEY:
        return spec.null_column, None
    if cls == UNPARSEABLE_TIMESTAMP:
        assert spec.timestamp is not None
        return spec.timestamp, UNPARSEABLE_VALUES[int(variant * len(UNPARSEABLE_VALUES))]
    if cls == FUTURE_TIMESTAMP:
        assert spec.timestamp is not None
        return spec.timestamp, _future(str(row[spec.timestamp]))
    if cls == NON_NUMERIC_AMOUNT:
        assert spec.amount is not None
        value = str(row[spec.amount])
        return spec.amount, value.replace(".", ",") if variant < 0.5 else "N/A"
    if cls == NEGATIVE_AMOUNT:
        assert spec.amount is not None
        value = str(row[spec.amount])
        return spec.amount, "-" + value if float(value) > 0 else "-1.00"
    if cls == UNKNOWN_EVENT_TYPE:
        return "event_type", UNKNOWN_EVENT_VALUE
    raise ValueError(f"defect class {cls!r} does not apply to this table")


def _another_version(column: str, value: str, variant: float) -> str | None:
    """A re-sent row's changed value (key_duplicate); None for a column without a rule."""
    if column in ("order_total", "price"):
        return _add_cents(value, 100 + 100 * int(variant * 49))
    if column == "quantity":
        return str(int(value) + 1 + int(variant * 3))
    if column == "country":
        names = list(COUNTRIES)
        shift = 1 + int(variant * (len(names) - 1))
        return names[(names.index(value) + shift) % len(names)]
    if column == "event_at":
        moved = dt.datetime.strptime(value, _TS_FORMAT) + dt.timedelta(
            seconds=1 + int(variant * 600)
        )
        return f"{moved:{_TS_FORMAT}}"
    return None
