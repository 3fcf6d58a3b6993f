"""Turn simulated arrays into the contract tables (pyarrow), assigning the string identifiers.

Identifiers are a prefix plus a zero-padded sequence number. Order, session and event numbers
are global running counters (:class:`Counters`) advanced chunk by chunk in customer order, so
they do not depend on the chunk size. Formatting is vectorised: fixed-width identifiers are
built as a byte matrix, timestamps through Arrow's timestamp-to-string cast, and amounts as
``decimal128(12, 2)`` built straight from integer cents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retention.datagen.assortment import Assortment
from retention.datagen.campaigns import OFFER_COST_CENTS
from retention.datagen.catalog import Catalog
from retention.datagen.params import (
    ARCHETYPES,
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    COUPON_CODES,
    CUSTOMER_TYPES,
    EVENT_TYPES,
    OFFER_TYPES,
    ORDER_STATUSES,
    TABLE_COLUMNS,
    TRUTH_CONTACT_COLUMNS,
    TRUTH_CUSTOMER_COLUMNS,
    TRUTH_PRODUCT_COLUMNS,
    TRUTH_STAPLE_COLUMNS,
)
from retention.datagen.simulate import BlockData

AMOUNT = pa.decimal128(12, 2)


def _digits(n: int) -> int:
    return len(str(max(int(n), 1)))


@dataclass(frozen=True)
class IdWidths:
    """Zero-padding widths of the identifiers (a number that outgrows its width gets longer)."""

    customer: int
    product: int
    order: int
    session: int
    event: int

    @classmethod
    def for_size(cls, customers: int, products: int) -> IdWidths:
        """Widths sized generously for a dataset of ``customers`` customers."""
        return cls(
            customer=max(6, _digits(customers)),
            product=max(5, _digits(products)),
            order=max(7, _digits(customers * 60)),
            session=max(8, _digits(customers * 400)),
            event=max(9, _digits(customers * 2000)),
        )


def contact_id_width(customers: int, campaigns: int) -> int:
    """Zero-padding width of ``contact_id`` (kept out of :class:`IdWidths`, whose fields are
    recorded in every run's generation_params.json)."""
    return max(7, _digits(customers * max(campaigns, 1)))


def campaign_id_width(campaigns: int) -> int:
    """Zero-padding width of ``campaign_id`` (``C01`` ...)."""
    return max(2, _digits(campaigns))


@dataclass
class Counters:
    """Next global sequence numbers of the identifiers assigned chunk by chunk."""

    order: int = 1
    session: int = 1
    event: int = 1
    contact: int = 1


def format_ids(prefix: str, numbers: np.ndarray, width: int, suffix: str = "") -> pa.Array:
    """``prefix + zero-padded number + suffix`` for every number (vectorised, no Python loop)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    if n and numbers.max() >= 10**width:
        width = _digits(int(numbers.max()))
    head, tail = prefix.encode(), suffix.encode()
    row = len(head) + width + len(tail)
    buf = np.empty((n, row), dtype=np.uint8)
    if head:
        buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    if tail:
        buf[:, len(head) + width :] = np.frombuffer(tail, dtype=np.uint8)
    rest = numbers.copy()
    for pos in range(len(head) + width - 1, len(head) - 1, -1):
        buf[:, pos] = rest % 10 + 48
        rest //= 10
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    ).cast(pa.string())


def format_timestamps(seconds: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` strings of epoch seconds (-1 -> null)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    arr = pa.array(seconds, type=pa.timestamp("s"), mask=seconds < 0)
    return arr.cast(pa.string())


def format_cents(cents: np.ndarray) -> pa.Array:
    """``decimal128(12, 2)`` amounts from integer cents."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)  # little-endian 128-bit integers
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(AMOUNT, cents.size, [None, pa.py_buffer(words)])


def labels(codes: np.ndarray, vocabulary: tuple[str, ...] | list[str]) -> pa.Array:
    """Strings of a vocabulary by index (negative code -> null)."""
    codes = np.asarray(codes, dtype=np.int32)
    return pc.take(pa.array(list(vocabulary), type=pa.string()), pa.array(codes, mask=codes < 0))


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    assert tuple(columns) == TABLE_COLUMNS[name], name
    return pa.table(columns)


def products_table(catalog: Catalog, widths: IdWidths) -> pa.Table:
    """The ``products`` table (typed: price is a decimal)."""
    return _table(
        "products",
        {
            "product_id": format_ids("p", np.arange(1, catalog.size + 1), widths.product),
            "category": labels(catalog.category, [c.name for c in CATEGORIES]),
            "brand": labels(catalog.brand, catalog.brand_names),
            "price": format_cents(catalog.price_cents),
        },
    )


def chunk_tables(
    data: BlockData, counters: Counters, widths: IdWidths, product_ids: pa.Array
) -> dict[str, pa.Table]:
    """The customer-dependent contract tables of one chunk; advances ``counters``."""
    customer_ids = format_ids("c", data.customer_num, widths.customer)
    order_ids = format_ids("o", counters.order + np.arange(data.n_orders), widths.order)
    session_num = counters.session + np.arange(data.n_sessions)
    n_events = data.ev_time.size
    counters.order += data.n_orders
    counters.session += data.n_sessions
    event_num = counters.event + np.arange(n_events)
    counters.event += n_events

    def product_refs(idx: np.ndarray) -> pa.Array:
        return pc.take(product_ids, pa.array(idx, type=pa.int32(), mask=idx < 0))

    customers = _table(
        "customers",
        {
            "customer_id": customer_ids,
            "signup_at": format_timestamps(data.signup),
            "country": labels(data.country, list(COUNTRIES)),
            "acquisition_channel": labels(data.channel, [c.name for c in CHANNELS]),
            "email": format_ids("user", data.customer_num, widths.customer, "@example.com"),
        },
    )
    orders = _table(
        "orders",
        {
            "order_id": order_ids,
            "customer_id": pc.take(customer_ids, pa.array(data.ord_customer)),
            "ordered_at": format_timestamps(data.ord_time),
            "order_total": format_cents(data.ord_total),
            "status": labels(data.ord_status, ORDER_STATUSES),
            "discount_amount": format_cents(data.ord_discount),
            "coupon_code": labels(data.ord_coupon, COUPON_CODES),
        },
    )
    order_items = _table(
        "order_items",
        {
            "order_id": pc.take(order_ids, pa.array(data.item_order)),
            "product_id": product_refs(data.item_product),
            "quantity": pa.array(data.item_qty, type=pa.int64()),
            "unit_price": format_cents(data.item_price),
        },
    )
    events = _table(
        "events",
        {
            "event_id": format_ids("e", event_num, widths.event),
            "customer_id": pc.take(customer_ids, pa.array(data.sess_customer[data.ev_session])),
            "session_id": format_ids("s", session_num[data.ev_session], widths.session),
            "event_at": format_timestamps(data.ev_time),
            "event_type": labels(data.ev_type, EVENT_TYPES),
            "product_id": product_refs(data.ev_product),
        },
    )
    return {"customers": customers, "orders": orders, "order_items": order_items, "events": events}


def contacts_tables(
    data: BlockData,
    counters: Counters,
    widths: IdWidths,
    contact_width: int,
    campaign_width: int,
    channel: str,
) -> tuple[pa.Table, pa.Table]:
    """The chunk's ``contacts`` table and its ground truth ``contacts_truth``; advances
    ``counters.contact``."""
    n = data.con_customer.size
    contact_ids = format_ids("k", counters.contact + np.arange(n), contact_width)
    counters.contact += n
    customer_ids = format_ids("c", data.customer_num[data.con_customer], widths.customer)
    campaign_ids = format_ids("C", data.con_campaign.astype(np.int64) + 1, campaign_width)
    offer = data.con_offer
    treated = offer >= 0
    assignment = labels(np.where(treated, 0, 1), ("treatment", "control"))
    offer_type = labels(offer, OFFER_TYPES)
    contacts = _table(
        "contacts",
        {
            "contact_id": contact_ids,
            "customer_id": customer_ids,
            "campaign_id": campaign_ids,
            "contacted_at": format_timestamps(data.con_time),
            "assignment": assignment,
            "offer_type": offer_type,
            "offer_cost": format_cents(np.where(treated, OFFER_COST_CENTS[offer], 0)),
            "channel": labels(np.where(treated, 0, -1), (channel,)),
        },
    )
    outcome = data.con_retained_if
    columns = {
        "contact_id": contact_ids,
        "customer_id": customer_ids,
        "campaign_id": campaign_ids,
        "customer_type": labels(data.con_type, CUSTOMER_TYPES),
        "assignment": assignment,
        "offer_type": offer_type,
        "retained_if_control": pa.array(outcome[:, 0] == 1),
        **{
            f"retained_if_{name}": pa.array(outcome[:, 1 + j] == 1, mask=outcome[:, 1 + j] < 0)
            for j, name in enumerate(OFFER_TYPES)
        },
        **{
            f"true_effect_{name}": pa.array(data.con_effect[:, j])
            for j, name in enumerate(OFFER_TYPES)
        },
        "retained": pa.array(data.con_retained),
    }
    assert tuple(columns) == TRUTH_CONTACT_COLUMNS
    return contacts, pa.table(columns)


def archetype(lam: np.ndarray, dropout: np.ndarray) -> np.ndarray:
    """Human label (index into ARCHETYPES) from the purchase rate and dropout probability.

    ``one_and_done``: p >= 0.5 (at most ~2 orders expected); ``loyal``: buys at least every
    60 days and is expected to stay a year or more (``1 / (lambda * p) >= 365`` days);
    ``regular``: buys at least every 90 days; ``occasional``: the rest.
    """
    code = np.full(lam.size, ARCHETYPES.index("occasional"), dtype=np.int8)
    code[lam >= 1 / 90] = ARCHETYPES.index("regular")
    code[(lam >= 1 / 60) & (lam * dropout <= 1 / 365)] = ARCHETYPES.index("loyal")
    code[dropout >= 0.5] = ARCHETYPES.index("one_and_done")
    return code


def customers_truth_table(data: BlockData, widths: IdWidths) -> pa.Table:
    """Ground truth of the chunk's customers (latent parameters and dropout time)."""
    names = pa.array([c.name for c in CATEGORIES] + [None], type=pa.string())
    slots = [pc.take(names, pa.array(np.where(s < 0, len(CATEGORIES), s))) for s in data.pref.T]
    preferred = pc.binary_join_element_wise(*slots, "|", null_handling="skip")
    columns = {
        "customer_id": format_ids("c", data.customer_num, widths.customer),
        "purchase_rate_per_day": pa.array(data.lam),
        "dropout_prob": pa.array(data.dropout),
        "death_at": format_timestamps(data.death),
        "is_alive_at_end": pa.array(data.death < 0),
        "archetype": labels(archetype(data.lam, data.dropout), ARCHETYPES),
        "preferred_categories": preferred,
        "session_rate_per_day": pa.array(data.session_rate),
        "fade_window_days": pa.array(data.fade_days),
    }
    assert tuple(columns) == TRUTH_CUSTOMER_COLUMNS
    return pa.table(columns)


def products_truth_table(assortment: Assortment, widths: IdWidths) -> pa.Table:
    """Ground truth of the product structure (datagen/assortment.py)."""
    catalog = assortment.catalog
    ids = format_ids("p", np.arange(1, catalog.size + 1), widths.product)
    launched = np.where(assortment.launch >= assortment.origin, assortment.launch, -1)
    group = assortment.group
    columns = {
        "product_id": ids,
        "category": labels(catalog.category, [c.name for c in CATEGORIES]),
        "popularity_weight": pa.array(catalog.popularity),
        "launched_at": format_timestamps(launched),
        "is_staple": pa.array(assortment.is_staple),
        "staple_cycle_days": pa.array(assortment.cycle_days, mask=~assortment.is_staple),
        "substitute_group": pa.array(group, type=pa.int32(), mask=group < 0),
        "complement_product_id": pc.take(
            ids, pa.array(assortment.complement, mask=assortment.complement < 0)
        ),
    }
    assert tuple(columns) == TRUTH_PRODUCT_COLUMNS
    return pa.table(columns)


def customer_staples_truth_table(
    data: BlockData, widths: IdWidths, product_ids: pa.Array
) -> pa.Table:
    """One row per customer x staple: the personal cycle, adoption and drop times."""
    row, slot = np.nonzero(data.staple_product >= 0)
    columns = {
        "customer_id": format_ids("c", data.customer_num[row], widths.customer),
        "product_id": pc.take(product_ids, pa.array(data.staple_product[row, slot])),
        "cycle_days": pa.array(data.staple_cycle_days[row, slot]),
        "adopted_at": format_timestamps(data.staple_adopted[row, slot]),
        "dropped_at": format_timestamps(data.staple_dropped[row, slot]),
    }
    assert tuple(columns) == TRUTH_STAPLE_COLUMNS
    return pa.table(columns)


def as_strings(table: pa.Table) -> pa.Table:
    """Cast every column to string (defect mode writes strings only)."""
    return pa.table(
        {
            name: col if pa.types.is_string(col.type) else col.cast(pa.string())
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
