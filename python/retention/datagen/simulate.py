"""Simulation of one block of customers: sign-ups, purchases (BG/NBD-like), sessions and events.

Everything here is vectorised numpy over a block of customers and uses only the block's own
random generator, so a block's data depend on ``(seed, block_index)`` and the run's arguments,
never on how blocks are grouped into chunks. Identifiers are assigned later (``tables.py``):
this module works with integer indices local to the block.

The model, step by step (see ``docs/demo_data.md`` for the full description):

1. customers sign up over ``[start, end - 30 days]`` following a seasonal intensity;
2. each draws a purchase rate ``lambda ~ Gamma`` and a dropout probability ``p ~ Beta``
   (both shifted by the acquisition channel) and the number of purchases ``D ~ Geometric(p)``
   after which they drop out ("die");
3. purchases are a seasonal Poisson process of rate ``lambda`` (plus, for some, an order in
   the sign-up session); the customer dies at the ``D``-th order;
4. browsing sessions are a seasonal Poisson process of rate proportional to
   ``base + k * lambda``, thinned by a fading factor over the last 30-60 days before death;
5. each session is a funnel (page views, search, product views, cart, checkout, purchase)
   with events seconds-to-minutes apart; sessions of a customer are > 31 minutes apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from retention.datagen.assortment import Assortment, Shoppers, Staples
from retention.datagen.campaigns import (
    CampaignOutcome,
    CampaignPlan,
    Contacts,
    apply_campaigns,
    campaign_rng,
    driven_away_deaths,
    settle_outcomes,
)
from retention.datagen.catalog import Catalog
from retention.datagen.params import (
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    COUPONS,
    EV_ADD_TO_CART,
    EV_PRODUCT_VIEW,
    FUNNEL_ORDER,
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    STATUS_RETURNED,
    ModelParams,
)
from retention.datagen.timeline import (
    DAY,
    HOUR,
    SEASON_BFCM,
    SEASON_HOLIDAY,
    SEASON_SPRING,
    SEASON_SUMMER,
    IntensityGrid,
    Window,
)

# Column positions in the per-session funnel count matrix (same order as FUNNEL_ORDER).
_C_PAGE, _C_SEARCH, _C_VIEW, _C_CART, _C_CHECKOUT, _C_PURCHASE = range(6)
_FUNNEL = np.asarray(FUNNEL_ORDER, dtype=np.int8)
_COUPON_INDEX = {code: i for i, code in enumerate(COUPONS)}
_COUPON_PCT = np.asarray(list(COUPONS.values()), dtype=np.int64)

#: Latest session start: sessions must end inside the window, and none lasts this long.
SESSION_LATEST_START_BEFORE_END = 2 * HOUR
#: Sign-ups stop this long before the end of the window.
SIGNUP_STOP_BEFORE_END = 30 * DAY


@dataclass(frozen=True)
class SimContext:
    """Everything shared by all blocks of one run."""

    seed: int
    window: Window
    model: ModelParams
    catalog: Catalog
    assortment: Assortment
    events_scale: float
    signup_grid: IntensityGrid
    browse_grid: IntensityGrid
    purchase_grid: IntensityGrid
    season_codes: np.ndarray  # per day of the window
    campaigns: CampaignPlan | None = None  # simulated retention campaigns (None: none)

    @classmethod
    def build(
        cls,
        seed: int,
        window: Window,
        model: ModelParams,
        catalog: Catalog,
        events_scale: float,
        assortment: Assortment | None = None,
        campaigns: CampaignPlan | None = None,
    ) -> SimContext:
        if assortment is None:
            assortment = Assortment.build(structure_rng(seed), seed, catalog, window, model)
        return cls(
            seed=seed,
            window=window,
            model=model,
            catalog=catalog,
            assortment=assortment,
            events_scale=events_scale,
            signup_grid=IntensityGrid(window, model.signup_season),
            browse_grid=IntensityGrid(window, model.browse_season),
            purchase_grid=IntensityGrid(window, model.purchase_season),
            season_codes=window.season_codes(),
            campaigns=campaigns if campaigns is not None and campaigns.n_campaigns else None,
        )


@dataclass
class BlockData:
    """Simulated rows of one block (or, after :func:`concat_blocks`, of one chunk).

    Index columns (``*_customer``, ``*_session``, ``*_order``) are local to the block/chunk.
    Sessions, events, orders and items are sorted by customer, then time.
    """

    # customers
    customer_num: np.ndarray  # int64, global customer number (1-based)
    signup: np.ndarray  # int64 epoch seconds
    channel: np.ndarray  # int8 index into CHANNELS
    country: np.ndarray  # int8 index into COUNTRIES
    lam: np.ndarray  # float64 purchases/day while alive
    dropout: np.ndarray  # float64 dropout probability after each purchase
    session_rate: np.ndarray  # float64 browsing sessions/day (before seasonality and fading)
    fade_days: np.ndarray  # float64 length of the fading window before death
    pref: np.ndarray  # int8 (n, 3) preferred categories, -1 = unused slot
    staple_product: np.ndarray  # int32 (n, staples_max) the customer's staples, -1 = none
    staple_cycle_days: np.ndarray  # float64 (n, staples_max) their personal cycles
    staple_adopted: np.ndarray  # int64 (n, staples_max) epoch seconds
    staple_dropped: np.ndarray  # int64 (n, staples_max) epoch seconds
    death: np.ndarray  # int64 epoch seconds of dropout, -1 = alive at end
    # sessions
    sess_customer: np.ndarray  # int32
    # events
    ev_session: np.ndarray  # int32
    ev_time: np.ndarray  # int64
    ev_type: np.ndarray  # int8 index into EVENT_TYPES
    ev_product: np.ndarray  # int32 product index, -1 = none
    # orders
    ord_customer: np.ndarray  # int32
    ord_session: np.ndarray  # int32
    ord_time: np.ndarray  # int64
    ord_total: np.ndarray  # int64 cents
    ord_discount: np.ndarray  # int64 cents
    ord_coupon: np.ndarray  # int8 index into COUPON_CODES, -1 = none
    ord_status: np.ndarray  # int8 index into ORDER_STATUSES
    # order items
    item_order: np.ndarray  # int32
    item_product: np.ndarray  # int32
    item_qty: np.ndarray  # int64
    item_price: np.ndarray  # int64 cents
    # campaign contacts (datagen/campaigns.py; empty without campaigns), by customer then time
    con_customer: np.ndarray = field(default_factory=lambda: Contacts.empty().customer)
    con_campaign: np.ndarray = field(default_factory=lambda: Contacts.empty().campaign)
    con_time: np.ndarray = field(default_factory=lambda: Contacts.empty().time)
    con_offer: np.ndarray = field(default_factory=lambda: Contacts.empty().offer)
    con_type: np.ndarray = field(default_factory=lambda: Contacts.empty().type)
    con_retained_if: np.ndarray = field(default_factory=lambda: Contacts.empty().retained_if)
    con_effect: np.ndarray = field(default_factory=lambda: Contacts.empty().effect)
    con_retained: np.ndarray = field(default_factory=lambda: Contacts.empty().retained)

    @property
    def n_customers(self) -> int:
        return len(self.customer_num)

    @property
    def n_sessions(self) -> int:
        return len(self.sess_customer)

    @property
    def n_orders(self) -> int:
        return len(self.ord_customer)


# Which BlockData fields index into which entity (for re-basing when concatenating blocks).
_INDEX_FIELDS = {
    "sess_customer": "customers",
    "ord_customer": "customers",
    "ev_session": "sessions",
    "ord_session": "sessions",
    "item_order": "orders",
    "con_customer": "customers",
}


def concat_blocks(blocks: list[BlockData]) -> BlockData:
    """Concatenate blocks into one chunk, re-basing the local index columns."""
    if len(blocks) == 1:
        return blocks[0]
    offsets = {"customers": 0, "sessions": 0, "orders": 0}
    parts: dict[str, list[np.ndarray]] = {f.name: [] for f in fields(BlockData)}
    for block in blocks:
        for name in parts:
            arr = getattr(block, name)
            if name in _INDEX_FIELDS:
                arr = arr + np.asarray(offsets[_INDEX_FIELDS[name]], dtype=arr.dtype)
            parts[name].append(arr)
        offsets["customers"] += block.n_customers
        offsets["sessions"] += block.n_sessions
        offsets["orders"] += block.n_orders
    return BlockData(**{name: np.concatenate(arrs) for name, arrs in parts.items()})


def block_rng(seed: int, block_index: int) -> np.random.Generator:
    """The random stream of one block of customers."""
    return np.random.default_rng([seed, 1, block_index])


def structure_rng(seed: int, block_index: int | None = None) -> np.random.Generator:
    """The product structure's streams: the catalogue's (no block) and each block's baskets."""
    if block_index is None:
        return np.random.default_rng([seed, 3])
    return np.random.default_rng([seed, 4, block_index])


# --------------------------------------------------------------------------- sessions
@dataclass
class _Sessions:
    """Candidate sessions with their funnel counts and the gaps between their events."""

    customer: np.ndarray  # int32
    start: np.ndarray  # int64
    counts: np.ndarray  # int32 (n, 6), columns in FUNNEL_ORDER
    gaps: np.ndarray  # int64, one per event, 0 for the first event of a session
    is_purchase: np.ndarray  # bool
    item_views: np.ndarray  # int32: the first product views are of these many bought items
    basket: np.ndarray  # int64: the order's basket (Assortment.baskets), -1 = browsing

    @property
    def n_events(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @property
    def duration(self) -> np.ndarray:
        n_ev = self.n_events
        first = np.cumsum(n_ev) - n_ev
        cs = np.concatenate([[0], np.cumsum(self.gaps)])
        return cs[first + n_ev] - cs[first]

    @property
    def end(self) -> np.ndarray:
        return self.start + self.duration

    def take(self, idx: np.ndarray) -> _Sessions:
        """Sessions ``idx`` (a permutation and/or subset), carrying their events along."""
        n_ev = self.n_events
        first = np.cumsum(n_ev) - n_ev
        new_n = n_ev[idx]
        new_first = np.cumsum(new_n) - new_n
        ev_idx = np.repeat(first[idx] - new_first, new_n) + np.arange(new_n.sum())
        return _Sessions(
            customer=self.customer[idx],
            start=self.start[idx],
            counts=self.counts[idx],
            gaps=self.gaps[ev_idx],
            is_purchase=self.is_purchase[idx],
            item_views=self.item_views[idx],
            basket=self.basket[idx],
        )

    @staticmethod
    def concat(a: _Sessions, b: _Sessions) -> _Sessions:
        return _Sessions(
            customer=np.concatenate([a.customer, b.customer]),
            start=np.concatenate([a.start, b.start]),
            counts=np.concatenate([a.counts, b.counts]),
            gaps=np.concatenate([a.gaps, b.gaps]),
            is_purchase=np.concatenate([a.is_purchase, b.is_purchase]),
            item_views=np.concatenate([a.item_views, b.item_views]),
            basket=np.concatenate([a.basket, b.basket]),
        )


def _event_gaps(rng: np.random.Generator, n_ev: np.ndarray, model: ModelParams) -> np.ndarray:
    """Seconds between consecutive events (lognormal), 0 before each session's first event."""
    total = int(n_ev.sum())
    gaps = np.exp(
        np.log(model.event_gap_median_s) + model.event_gap_sigma * rng.standard_normal(total)
    )
    gaps = np.clip(np.rint(gaps), 2, model.event_gap_max_s).astype(np.int64)
    first = np.cumsum(n_ev) - n_ev
    gaps[first[n_ev > 0]] = 0
    return gaps


def _purchase_sessions(
    rng: np.random.Generator,
    customer: np.ndarray,
    start: np.ndarray,
    n_items: np.ndarray,
    ctx: SimContext,
) -> _Sessions:
    m, scale, n = ctx.model, ctx.events_scale, len(customer)
    counts = np.zeros((n, 6), dtype=np.int32)
    counts[:, _C_PAGE] = rng.poisson(m.purchase_page_views * scale, n)
    counts[:, _C_SEARCH] = rng.random(n) < min(1.0, m.purchase_search_prob * scale)
    item_views = rng.binomial(n_items, min(1.0, scale)).astype(np.int32)
    counts[:, _C_VIEW] = item_views + rng.poisson(m.purchase_extra_views * scale, n)
    counts[:, _C_CART] = n_items
    counts[:, _C_CHECKOUT] = 1
    counts[:, _C_PURCHASE] = 1
    gaps = _event_gaps(rng, counts.sum(axis=1), m)
    basket = np.arange(n, dtype=np.int64)
    return _Sessions(customer, start, counts, gaps, np.ones(n, dtype=bool), item_views, basket)


def _browse_sessions(
    rng: np.random.Generator, customer: np.ndarray, start: np.ndarray, ctx: SimContext
) -> _Sessions:
    m, n = ctx.model, len(customer)
    counts = np.zeros((n, 6), dtype=np.int32)
    counts[:, _C_PAGE] = 1 + rng.poisson(m.browse_page_views_extra, n)
    counts[:, _C_SEARCH] = rng.random(n) < m.browse_search_prob
    counts[:, _C_VIEW] = rng.poisson(m.browse_product_views, n)
    cart = (rng.random(n) < m.browse_cart_prob) & (counts[:, _C_VIEW] > 0)
    counts[:, _C_CART] = cart
    counts[:, _C_CHECKOUT] = cart & (rng.random(n) < m.browse_checkout_prob)
    gaps = _event_gaps(rng, counts.sum(axis=1), m)
    no_items = np.zeros(n, dtype=np.int32)
    no_basket = np.full(n, -1, dtype=np.int64)
    return _Sessions(customer, start, counts, gaps, np.zeros(n, dtype=bool), no_items, no_basket)


def _sort_sessions(s: _Sessions) -> _Sessions:
    return s.take(np.lexsort((s.start, s.customer)))


def _spread_purchases(s: _Sessions, min_gap: int) -> None:
    """Shift purchase sessions (sorted) so that each starts > ``min_gap`` after the previous."""
    while True:
        end = s.end
        clash = (s.customer[1:] == s.customer[:-1]) & (s.start[1:] < end[:-1] + min_gap)
        if not clash.any():
            return
        later = np.flatnonzero(clash) + 1
        s.start[later] = end[later - 1] + min_gap


def _drop_clashing_browses(s: _Sessions, min_gap: int) -> np.ndarray:
    """Indices of sorted sessions to keep so that no two of a customer overlap or nearly touch.

    A browsing session that clashes with a purchase session is dropped; of two clashing browsing
    sessions the later one is dropped. Purchase sessions never clash with each other here.
    """
    keep = np.arange(s.customer.size)
    while True:
        customer, start = s.customer[keep], s.start[keep]
        end = start + s.duration[keep]
        clash = (customer[1:] == customer[:-1]) & (start[1:] < end[:-1] + min_gap)
        if not clash.any():
            return keep
        j = np.flatnonzero(clash)
        drop = np.where(s.is_purchase[keep[j + 1]], j, j + 1)
        keep = np.delete(keep, np.unique(drop))


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal values (input sorted)."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new_run = np.concatenate([[True], groups[1:] != groups[:-1]])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
    return np.arange(n) - run_start


# --------------------------------------------------------------------------- the block
# The steps draw from the block's generators in a fixed order (customers, purchases,
# baskets, browsing, events, orders): reordering them changes every dataset. Campaigns
# (if any) draw from a stream of their own and change the purchase timeline before
# anything is derived from it.
def simulate_block(ctx: SimContext, block_index: int, first_num: int, n: int) -> BlockData:
    """Simulate customers ``first_num .. first_num + n - 1`` (block ``block_index``)."""
    rng = block_rng(ctx.seed, block_index)
    srng = structure_rng(ctx.seed, block_index)
    people = _draw_customers(rng, ctx, n)
    ord_cust, ord_start = _draw_purchase_times(rng, ctx, people)
    campaigns = _run_campaigns(ctx, block_index, people, ord_cust, ord_start)
    if campaigns is not None:
        ord_cust, ord_start = campaigns.customer, campaigns.time
    shoppers = Shoppers(
        number=np.arange(first_num, first_num + n, dtype=np.int64),
        pref=people.pref,
        n_pref=people.n_pref,
        signup=people.signup,
    )
    staples = ctx.assortment.staples(srng, shoppers)
    baskets = ctx.assortment.baskets(srng, shoppers, staples, ord_cust, ord_start)
    purchases, death = _purchase_timeline(rng, ctx, people, ord_cust, ord_start, baskets)
    death, abrupt = _campaign_deaths(campaigns, death, purchases)
    sessions = _with_browsing(rng, ctx, people, purchases, death, abrupt)
    events = _draw_events(rng, ctx, sessions, shoppers, baskets)
    orders = _draw_orders(rng, ctx, sessions, events)
    contacts = _settled_contacts(ctx, campaigns, orders)
    return _block_data(shoppers, people, staples, death, sessions, events, orders, contacts)


def _run_campaigns(
    ctx: SimContext, block_index: int, people: _Customers, ord_cust, ord_start
) -> CampaignOutcome | None:
    """Apply the run's campaigns (if any) to the purchase timeline, from their own stream, and
    update the customers' dropout purchase for those who responded (None: no campaigns)."""
    if ctx.campaigns is None:
        return None
    campaigns = apply_campaigns(
        campaign_rng(ctx.seed, block_index),
        ctx.campaigns,
        ctx.purchase_grid,
        people.signup,
        people.lam,
        people.n_dropout,
        ord_cust,
        ord_start,
    )
    people.n_dropout = campaigns.n_dropout
    return campaigns


def _campaign_deaths(campaigns: CampaignOutcome | None, death: np.ndarray, purchases: _Sessions):
    """Death times with customers a contact drove away dying at it, and which ones they are
    (``abrupt``: no fading before death; None without campaigns)."""
    if campaigns is None:
        return death, None
    death = driven_away_deaths(death, campaigns.driven_away_at, purchases.customer, purchases.end)
    return death, campaigns.driven_away_at >= 0


def _settled_contacts(ctx: SimContext, campaigns: CampaignOutcome | None, orders: dict) -> Contacts:
    """The campaigns' contacts with outcomes measured on the orders as written (empty
    without campaigns)."""
    if campaigns is None:
        return Contacts.empty()
    return settle_outcomes(
        campaigns.contacts,
        orders["ord_customer"],
        orders["ord_time"],
        ctx.campaigns.horizon_s,
    )


def _block_data(
    shoppers: Shoppers,
    people: _Customers,
    staples: Staples,
    death: np.ndarray,
    sessions: _Sessions,
    events: _Events,
    orders: dict,
    contacts: Contacts,
) -> BlockData:
    """Collect the simulated steps' results into the block's rows."""
    return BlockData(
        customer_num=shoppers.number,
        signup=people.signup,
        channel=people.channel,
        country=people.country,
        lam=people.lam,
        dropout=people.dropout,
        session_rate=people.session_rate,
        fade_days=people.fade_days,
        pref=people.pref,
        staple_product=staples.product,
        staple_cycle_days=staples.cycle_days,
        staple_adopted=staples.adopted,
        staple_dropped=staples.dropped,
        death=death,
        sess_customer=sessions.customer,
        ev_session=events.session,
        ev_time=events.time,
        ev_type=events.type,
        ev_product=events.product,
        **orders,
        con_customer=contacts.customer,
        con_campaign=contacts.campaign,
        con_time=contacts.time,
        con_offer=contacts.offer,
        con_type=contacts.type,
        con_retained_if=contacts.retained_if,
        con_effect=contacts.effect,
        con_retained=contacts.retained,
    )


@dataclass
class _Customers:
    """Who the block's customers are and how they behave (one entry per customer)."""

    signup: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    lam: np.ndarray  # purchase rate
    dropout: np.ndarray
    n_dropout: np.ndarray  # the customer dies right after this purchase
    pref: np.ndarray
    n_pref: np.ndarray
    buys_at_signup: np.ndarray
    fade_days: np.ndarray
    session_rate: np.ndarray


def _draw_customers(rng: np.random.Generator, ctx: SimContext, n: int) -> _Customers:
    m, w = ctx.model, ctx.window
    signup = ctx.signup_grid.sample(
        rng,
        np.full(n, w.start_ts, dtype=np.int64),
        np.full(n, w.end_ts - SIGNUP_STOP_BEFORE_END),
    )
    ch_w = np.array([c.weight for c in CHANNELS])
    channel = rng.choice(len(CHANNELS), n, p=ch_w / ch_w.sum()).astype(np.int8)
    co_w = np.array(list(COUNTRIES.values()))
    country = rng.choice(len(COUNTRIES), n, p=co_w / co_w.sum()).astype(np.int8)
    rate_mult = np.array([c.rate_mult for c in CHANNELS])[channel]
    lam = rng.gamma(m.rate_shape, m.rate_mean / m.rate_shape, n) * rate_mult
    lam = np.minimum(lam, m.rate_max)
    drop_mult = np.array([c.dropout_mult for c in CHANNELS])[channel]
    dropout = np.clip(rng.beta(m.dropout_a, m.dropout_b, n) * drop_mult, 1e-4, m.dropout_max)
    n_dropout = rng.geometric(dropout)
    cat_w = np.array([c.weight for c in CATEGORIES])
    gumbel = np.log(cat_w)[None, :] + rng.gumbel(size=(n, len(CATEGORIES)))
    top3 = np.argsort(-gumbel, axis=1)[:, :3].astype(np.int8)
    n_pref = rng.choice(3, n, p=[0.45, 0.35, 0.20]) + 1
    pref = np.where(np.arange(3)[None, :] < n_pref[:, None], top3, -1).astype(np.int8)
    first_prob = np.array([c.first_purchase_prob for c in CHANNELS])[channel]
    buys_at_signup = rng.random(n) < first_prob
    fade_days = rng.uniform(m.fade_window_min_days, m.fade_window_max_days, n)
    engagement = np.array([c.engagement_mult for c in CHANNELS])[channel]
    session_rate = ctx.events_scale * (m.base_session_rate + m.sessions_per_purchase * lam)
    return _Customers(
        signup, channel, country, lam, dropout, n_dropout, pref, n_pref, buys_at_signup,
        fade_days, session_rate * engagement,
    )  # fmt: skip


def _draw_purchase_times(rng: np.random.Generator, ctx: SimContext, people: _Customers):
    """Seasonal Poisson(lambda) from sign-up (+ maybe one in the sign-up session), cut at
    each customer's dropout: the customer dies right after the D-th purchase (BG/NBD)."""
    grid, n = ctx.purchase_grid, people.signup.size
    last_start = ctx.window.end_ts - SESSION_LATEST_START_BEFORE_END
    signup = people.signup
    expected = people.lam * (grid.cumulative(np.full(n, last_start)) - grid.cumulative(signup))
    n_poisson = rng.poisson(np.maximum(expected, 0.0))
    cust_p = np.repeat(np.arange(n, dtype=np.int32), n_poisson)
    t_p = grid.sample(rng, signup[cust_p], np.full(cust_p.size, last_start, dtype=np.int64))
    cust_f = np.flatnonzero(people.buys_at_signup).astype(np.int32)
    ord_cust = np.concatenate([cust_p, cust_f])
    ord_start = np.concatenate([t_p, signup[cust_f]])
    by_time = np.lexsort((ord_start, ord_cust))
    ord_cust, ord_start = ord_cust[by_time], ord_start[by_time]
    alive = _rank_within(ord_cust) < people.n_dropout[ord_cust]
    return ord_cust[alive], ord_start[alive]


def _purchase_timeline(rng, ctx: SimContext, people: _Customers, ord_cust, ord_start, baskets):
    """The purchase sessions (spread apart, within the window) and each customer's death
    time (the end of the fatal purchase; -1: alive at the end)."""
    purchases = _purchase_sessions(rng, ord_cust, ord_start, baskets.n_items, ctx)
    _spread_purchases(purchases, ctx.model.session_min_gap_s)
    purchases = purchases.take(np.flatnonzero(purchases.end <= ctx.window.end_ts))
    rank = _rank_within(purchases.customer)
    fatal = rank == people.n_dropout[purchases.customer] - 1
    death = np.full(people.signup.size, -1, dtype=np.int64)
    death[purchases.customer[fatal]] = purchases.end[fatal]
    return purchases, death


def _with_browsing(
    rng, ctx: SimContext, people: _Customers, purchases: _Sessions, death, abrupt=None
):
    """Browsing: seasonal Poisson, faded before death, plus a sign-up session; merged with
    the purchase sessions, clashing browses dropped. Customers marked ``abrupt`` (a campaign
    contact drove them away) stop at death without fading: their fading would otherwise
    reach back before the contact."""
    m, grid, n = ctx.model, ctx.browse_grid, people.signup.size
    signup = people.signup
    last_start = ctx.window.end_ts - SESSION_LATEST_START_BEFORE_END
    stop = np.where(death >= 0, death, last_start)
    expected = people.session_rate * (grid.cumulative(stop) - grid.cumulative(signup))
    n_browse = rng.poisson(np.maximum(expected, 0.0))
    cust_b = np.repeat(np.arange(n, dtype=np.int32), n_browse)
    t_b = grid.sample(rng, signup[cust_b], stop[cust_b])
    to_death_days = (death[cust_b] - t_b) / DAY
    window_days = people.fade_days[cust_b]
    fading = (death[cust_b] >= 0) & (to_death_days < window_days)
    if abrupt is not None:
        fading &= ~abrupt[cust_b]
    factor = np.where(
        fading, np.exp(np.log(m.fade_floor) * (1.0 - to_death_days / window_days)), 1.0
    )
    kept = rng.random(cust_b.size) < factor
    signing_up = ~people.buys_at_signup & (rng.random(n) < min(1.0, ctx.events_scale))
    cust_s = np.flatnonzero(signing_up)
    browses = _browse_sessions(
        rng,
        np.concatenate([cust_b[kept], cust_s.astype(np.int32)]),
        np.concatenate([t_b[kept], signup[cust_s]]),
        ctx,
    )
    sessions = _sort_sessions(_Sessions.concat(purchases, browses))
    sessions = sessions.take(_drop_clashing_browses(sessions, m.session_min_gap_s))
    return sessions.take(np.flatnonzero(sessions.end <= ctx.window.end_ts))


@dataclass
class _Events:
    session: np.ndarray
    time: np.ndarray
    type: np.ndarray
    product: np.ndarray
    cart_session: np.ndarray  # per add-to-cart event
    cart_product: np.ndarray


def _draw_events(rng, ctx: SimContext, sessions: _Sessions, shoppers: Shoppers, baskets):
    """The sessions' funnel events, timed by their gaps, with the products viewed and carted."""
    counts = sessions.counts
    n_sess = counts.shape[0]
    n_ev = counts.sum(axis=1)
    ev_session = np.repeat(np.arange(n_sess, dtype=np.int32), n_ev)
    ev_type = np.repeat(np.tile(_FUNNEL, n_sess), counts.ravel())
    cs = np.cumsum(sessions.gaps)
    first_ev = np.cumsum(n_ev) - n_ev
    ev_time = sessions.start[ev_session] + cs - cs[first_ev][ev_session]
    view_product, cart_sess, cart_product = _event_products(rng, ctx, sessions, shoppers, baskets)
    ev_product = np.full(ev_type.size, -1, dtype=np.int32)
    ev_product[ev_type == EV_PRODUCT_VIEW] = view_product
    ev_product[ev_type == EV_ADD_TO_CART] = cart_product
    return _Events(ev_session, ev_time, ev_type, ev_product, cart_sess, cart_product)


def _event_products(rng, ctx: SimContext, sessions: _Sessions, shoppers: Shoppers, baskets):
    """Products viewed (biased to preferred categories, launched, own substitutes); the carts
    of a purchase session are its order's basket, an abandoned cart holds a product viewed
    in the session, and bought items were viewed first (subject to events_scale)."""
    counts = sessions.counts
    n_sess = counts.shape[0]
    n_views = counts[:, _C_VIEW]
    view_sess = np.repeat(np.arange(n_sess, dtype=np.int32), n_views)
    viewer = sessions.customer[view_sess]
    categories = ctx.assortment.categories(rng, shoppers, viewer)
    view_product = ctx.assortment.pick(
        rng, shoppers.number[viewer], categories, sessions.start[view_sess]
    )
    n_carts = counts[:, _C_CART]
    cart_sess = np.repeat(np.arange(n_sess, dtype=np.int32), n_carts)
    view_first = np.cumsum(n_views) - n_views
    cart_rank = _rank_within(cart_sess)
    bought = sessions.is_purchase[cart_sess]
    cart_product = np.zeros(cart_sess.size, dtype=np.int32)
    basket = sessions.basket[cart_sess[bought]]
    cart_product[bought] = baskets.product[baskets.first[basket] + cart_rank[bought]]
    random_view = (rng.random(cart_sess.size) * n_views[cart_sess]).astype(np.int64)
    browsed = ~bought
    cart_product[browsed] = view_product[view_first[cart_sess[browsed]] + random_view[browsed]]
    seen = bought & (cart_rank < sessions.item_views[cart_sess])
    view_product[view_first[cart_sess[seen]] + cart_rank[seen]] = cart_product[seen]
    return view_product, cart_sess, cart_product


def _draw_orders(rng, ctx: SimContext, sessions: _Sessions, events: _Events) -> dict:
    """One order per purchase session, its items the carted products; coupons, status."""
    m = ctx.model
    n_sess = sessions.customer.size
    ord_session = np.flatnonzero(sessions.is_purchase).astype(np.int32)
    n_ord = ord_session.size
    ord_customer = sessions.customer[ord_session]
    ord_time = sessions.end[ord_session]
    order_of_session = np.full(n_sess, -1, dtype=np.int64)
    order_of_session[ord_session] = np.arange(n_ord)
    line_order = order_of_session[events.cart_session]
    is_line = line_order >= 0
    line_order, line_product = line_order[is_line], events.cart_product[is_line]
    qty_extra = np.array([c.quantity_extra for c in CATEGORIES])[ctx.catalog.category[line_product]]
    line_qty = 1 + rng.poisson(qty_extra)
    n_products = ctx.catalog.size
    key, inverse = np.unique(line_order * n_products + line_product, return_inverse=True)
    item_order = (key // n_products).astype(np.int32)
    item_product = (key % n_products).astype(np.int32)
    item_qty = np.bincount(inverse, weights=line_qty, minlength=key.size).astype(np.int64)
    item_price = ctx.catalog.price_cents[item_product]
    subtotal = np.rint(
        np.bincount(item_order, weights=item_qty * item_price, minlength=n_ord)
    ).astype(np.int64)
    coupon = _coupons(rng, ctx, ord_customer, ord_time)
    pct = np.where(coupon >= 0, _COUPON_PCT[np.maximum(coupon, 0)], 0)
    discount = (subtotal * pct + 50) // 100
    u = rng.random(n_ord)
    status = np.full(n_ord, STATUS_COMPLETED, dtype=np.int8)
    status[u < m.cancel_prob + m.return_prob] = STATUS_RETURNED
    status[u < m.cancel_prob] = STATUS_CANCELLED
    return {
        "ord_customer": ord_customer,
        "ord_session": ord_session,
        "ord_time": ord_time,
        "ord_total": subtotal - discount,
        "ord_discount": discount,
        "ord_coupon": coupon,
        "ord_status": status,
        "item_order": item_order,
        "item_product": item_product,
        "item_qty": item_qty,
        "item_price": item_price,
    }


def _coupons(
    rng: np.random.Generator, ctx: SimContext, customer: np.ndarray, when: np.ndarray
) -> np.ndarray:
    """Coupon index per order (-1: none): welcome, win-back, then seasonal campaigns."""
    m = ctx.model
    n = customer.size
    rank = _rank_within(customer)
    prev = np.concatenate([[0], when[:-1]])
    gap_days = np.where(rank > 0, (when - prev) / DAY, 0.0)
    day = np.clip((when - ctx.window.start_ts) // DAY, 0, ctx.season_codes.size - 1)
    season = ctx.season_codes[day]
    u = rng.random(n)
    coupon = np.full(n, -1, dtype=np.int8)
    seasonal = (
        (SEASON_SUMMER, m.summer_coupon_prob, "SUMMER10"),
        (SEASON_SPRING, m.spring_coupon_prob, "SPRING15"),
        (SEASON_HOLIDAY, m.holiday_coupon_prob, "HOLIDAY15"),
        (SEASON_BFCM, m.bfcm_coupon_prob, "BFCM25"),
    )
    for code, prob, name in seasonal:
        coupon[(season == code) & (u < prob)] = _COUPON_INDEX[name]
    winback = (rank > 0) & (gap_days > m.winback_gap_days) & (u < m.winback_coupon_prob)
    coupon[winback] = _COUPON_INDEX["WINBACK20"]
    coupon[(rank == 0) & (u < m.welcome_coupon_prob)] = _COUPON_INDEX["WELCOME10"]
    return coupon
