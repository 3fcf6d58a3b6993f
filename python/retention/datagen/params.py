"""Run configuration, model parameters and the fixed vocabularies of the demo data generator.

Two dataclasses split the knobs:

* :class:`GeneratorConfig` — what the caller chooses per run (size, seed, window, output format).
* :class:`ModelParams` — the generative model itself (distributions, seasonality, funnel shape).
  The defaults are the documented model (``docs/demo_data.md``); tests and benchmarks may
  override them, and every value is recorded in ``ground_truth/generation_params.json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

OutputFormat = Literal["parquet", "csv"]

#: Customers are simulated in fixed blocks with their own random stream, so the data do not
#: depend on how blocks are grouped into chunks (``--chunk-customers`` is rounded up to this).
BLOCK_CUSTOMERS = 1000

#: Input-contract tables and their columns, in the exact order they are written.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "signup_at", "country", "acquisition_channel", "email"),
    "orders": (
        "order_id",
        "customer_id",
        "ordered_at",
        "order_total",
        "status",
        "discount_amount",
        "coupon_code",
    ),
    "order_items": ("order_id", "product_id", "quantity", "unit_price"),
    "products": ("product_id", "category", "brand", "price"),
    "events": ("event_id", "customer_id", "session_id", "event_at", "event_type", "product_id"),
    "contacts": (
        "contact_id",
        "customer_id",
        "campaign_id",
        "contacted_at",
        "assignment",
        "offer_type",
        "offer_cost",
        "channel",
    ),
}
#: Write order of the tables (products first: it is independent of the customer chunks).
TABLES: tuple[str, ...] = ("products", "customers", "orders", "order_items", "events")
#: Tables written only with ``--campaigns N`` (N > 0), after the others.
CAMPAIGN_TABLES: tuple[str, ...] = ("contacts",)

TRUTH_CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "purchase_rate_per_day",
    "dropout_prob",
    "death_at",
    "is_alive_at_end",
    "archetype",
    "preferred_categories",
    "session_rate_per_day",
    "fade_window_days",
)
TRUTH_PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_id",
    "category",
    "popularity_weight",
    "launched_at",
    "is_staple",
    "staple_cycle_days",
    "substitute_group",
    "complement_product_id",
)
TRUTH_STAPLE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "product_id",
    "cycle_days",
    "adopted_at",
    "dropped_at",
)
TRUTH_CONTACT_COLUMNS: tuple[str, ...] = (
    "contact_id",
    "customer_id",
    "campaign_id",
    "customer_type",
    "assignment",
    "offer_type",
    "retained_if_control",
    "retained_if_discount",
    "retained_if_free_shipping",
    "true_effect_discount",
    "true_effect_free_shipping",
    "retained",
)
TRUTH_DEFECT_COLUMNS: tuple[str, ...] = (
    "table",
    "defect_row_number",
    "key_value",
    "column",
    "defect_class",
    "original_value",
    "written_value",
)

# --------------------------------------------------------------------------- vocabularies
EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "begin_checkout",
    "purchase",
)
EV_PAGE_VIEW, EV_PRODUCT_VIEW, EV_SEARCH, EV_ADD_TO_CART, EV_BEGIN_CHECKOUT, EV_PURCHASE = range(6)
#: Order of the event types inside one session (the funnel).
FUNNEL_ORDER: tuple[int, ...] = (
    EV_PAGE_VIEW,
    EV_SEARCH,
    EV_PRODUCT_VIEW,
    EV_ADD_TO_CART,
    EV_BEGIN_CHECKOUT,
    EV_PURCHASE,
)

ORDER_STATUSES: tuple[str, ...] = ("completed", "cancelled", "returned")
STATUS_COMPLETED, STATUS_CANCELLED, STATUS_RETURNED = range(3)

#: Coupon code -> percent off the order subtotal.
COUPONS: dict[str, int] = {
    "WELCOME10": 10,
    "SPRING15": 15,
    "SUMMER10": 10,
    "BFCM25": 25,
    "HOLIDAY15": 15,
    "WINBACK20": 20,
}
COUPON_CODES: tuple[str, ...] = tuple(COUPONS)

ARCHETYPES: tuple[str, ...] = ("loyal", "regular", "occasional", "one_and_done")


# --------------------------------------------------------------------------- campaigns
@dataclass(frozen=True)
class Offer:
    """A retention offer of the simulated campaigns and its true effects by customer type."""

    cost_cents: int  # what one treatment contact costs (``offer_cost``)
    response_prob: float  # a treated persuadable buys once more, 1-20 days after the contact
    loss_prob: float  # a treated sleeping dog stops buying at the contact


#: The offers the campaigns test (``offer_type`` -> offer), in column order of the truth.
OFFERS: dict[str, Offer] = {
    "discount": Offer(cost_cents=500, response_prob=0.45, loss_prob=0.35),
    "free_shipping": Offer(cost_cents=200, response_prob=0.30, loss_prob=0.25),
}
OFFER_TYPES: tuple[str, ...] = tuple(OFFERS)
#: Who a customer is at a contact (contacts_truth.customer_type), from their history then.
CUSTOMER_TYPES: tuple[str, ...] = ("lost_cause", "sleeping_dog", "persuadable", "sure_thing")
TYPE_LOST_CAUSE, TYPE_SLEEPING_DOG, TYPE_PERSUADABLE, TYPE_SURE_THING = range(4)


@dataclass(frozen=True)
class CampaignParams:
    """The simulated randomized retention campaigns (``--campaigns N``; docs/demo_data.md)."""

    first_after_share: float = 1 / 3  # campaigns run over the window's last 2/3 ...
    min_days_before_end: int = 60  # ... and at least this long before its end
    min_spacing_days: int = 30  # campaign dates are at least this far apart
    send_hour: int = 9  # contacts go out between send_hour and send_hour + send_spread_hours
    send_spread_hours: int = 2
    channel: str = "email"
    contact_share: float = 0.4  # share of the eligible customers a campaign selects
    control_share: float = 0.25  # share of the selected held out (control)
    horizon_days: int = 30  # the outcome: any order in [contacted_at, + horizon)
    lost_after_days: int = 240  # no order for longer: lost cause
    sleeping_recent_days: int = 45  # last order at most this long ago ...
    sleeping_min_orders: int = 4  # ... and at least this many orders: sleeping dog
    persuadable_min_days: int = 60  # last order this long ago (up to lost_after_days)
    response_min_days: float = 1.0  # a persuadable's extra order comes this long after
    response_max_days: float = 20.0  # the contact, at most this long


def campaign_offers(campaign: int) -> tuple[int, ...]:
    """Indices into OFFER_TYPES of the offers campaign ``campaign`` (0-based) tests: the even
    ones test every offer, the odd ones only the discount."""
    return tuple(range(len(OFFER_TYPES))) if campaign % 2 == 0 else (0,)


def campaign_dates(
    start: dt.date, end: dt.date, campaigns: int, params: CampaignParams
) -> list[dt.date]:
    """The campaigns' days: evenly spread, the last ``min_days_before_end`` days before
    ``end``, over the window's last ``1 - first_after_share`` (the same for every block).
    Raises ``ValueError`` when they would be closer than ``min_spacing_days``."""
    if campaigns <= 0:
        return []
    n_days = (end - start).days + 1
    first = start + dt.timedelta(days=round(n_days * params.first_after_share))
    last = end - dt.timedelta(days=params.min_days_before_end)
    span = (last - first).days
    if span < 0 or span < params.min_spacing_days * campaigns:
        raise ValueError(
            f"--campaigns {campaigns} does not fit the window: campaigns run from {first} to "
            f"{last}, at least {params.min_spacing_days} days apart"
        )
    return [first + dt.timedelta(days=round(span * (k + 1) / campaigns)) for k in range(campaigns)]


@dataclass(frozen=True)
class Category:
    """A product category: its share of the catalogue/demand and its price distribution."""

    name: str
    weight: float
    price_median: float
    price_sigma: float
    quantity_extra: float  # mean of the Poisson added to quantity 1 (groceries come in multiples)
    # product structure (datagen/assortment.py)
    staple_share: float = 0.0  # share of the category's products that are staples
    staple_cycle_days: float = 0.0  # median repurchase cycle of its staples
    complement_category: str = ""  # where its products' complements come from ("" = itself)


CATEGORIES: tuple[Category, ...] = (
    Category("electronics", 0.12, 95.0, 0.85, 0.05),
    Category("books", 0.14, 14.0, 0.40, 0.15, complement_category="music"),
    Category("home", 0.12, 38.0, 0.70, 0.10, 0.15, 45.0, complement_category="garden"),
    Category("beauty", 0.10, 19.0, 0.50, 0.30, 0.45, 35.0),
    Category("fashion", 0.16, 42.0, 0.60, 0.10, complement_category="beauty"),
    Category("sports", 0.08, 48.0, 0.70, 0.10, 0.10, 30.0, complement_category="fashion"),
    Category("toys", 0.07, 24.0, 0.60, 0.15, complement_category="books"),
    Category("grocery", 0.09, 7.5, 0.50, 1.20, 0.60, 14.0),
    Category("garden", 0.05, 32.0, 0.70, 0.10, complement_category="home"),
    Category("music", 0.07, 17.0, 0.45, 0.05, complement_category="electronics"),
)

#: ISO-2 country -> weight.
COUNTRIES: dict[str, float] = {
    "US": 0.34,
    "GB": 0.12,
    "DE": 0.10,
    "FR": 0.08,
    "CA": 0.07,
    "NL": 0.05,
    "ES": 0.05,
    "IT": 0.05,
    "AU": 0.05,
    "SE": 0.04,
    "PL": 0.03,
    "IE": 0.02,
}


@dataclass(frozen=True)
class Channel:
    """An acquisition channel and how it shifts behaviour (multipliers on the base model)."""

    name: str
    weight: float
    rate_mult: float  # multiplies the purchase rate lambda
    dropout_mult: float  # multiplies the dropout probability p
    engagement_mult: float  # multiplies the browsing-session rate
    first_purchase_prob: float  # probability that the sign-up session is also the first order


CHANNELS: tuple[Channel, ...] = (
    Channel("organic", 0.34, 1.00, 1.00, 1.00, 0.50),
    Channel("paid_search", 0.20, 0.95, 1.05, 0.95, 0.60),
    Channel("paid_social", 0.15, 0.80, 1.35, 0.85, 0.45),
    Channel("email", 0.10, 1.20, 0.75, 1.15, 0.40),
    Channel("referral", 0.11, 1.15, 0.75, 1.10, 0.55),
    Channel("affiliate", 0.10, 0.90, 1.15, 0.90, 0.65),
)


def _monthly(values: tuple[float, ...]) -> tuple[float, ...]:
    assert len(values) == 12
    return values


@dataclass(frozen=True)
class Seasonality:
    """Multiplicative intensity profile: month x weekday x hour (x Black Friday week x trend)."""

    monthly: tuple[float, ...]  # Jan..Dec
    weekly: tuple[float, ...]  # Mon..Sun
    hourly: tuple[float, ...]  # 0..23 UTC
    black_friday: float  # extra factor from Black Friday to Cyber Monday (inclusive)
    trend: float = 0.0  # relative growth from start to end of the window (linear)


_HOURLY = (
    0.55, 0.45, 0.35, 0.28, 0.25, 0.28, 0.40, 0.60, 0.80, 0.95, 1.05, 1.10,
    1.15, 1.20, 1.25, 1.30, 1.30, 1.35, 1.45, 1.55, 1.60, 1.45, 1.10, 0.80,
)  # fmt: skip


@dataclass(frozen=True)
class ModelParams:
    """Every parameter of the generative model (see ``docs/demo_data.md``)."""

    # --- heterogeneity (BG/NBD-like)
    rate_shape: float = 0.9  # Gamma shape of lambda (purchases/day while alive)
    rate_mean: float = 1.0 / 50.0  # mean lambda: one purchase per ~50 days
    rate_max: float = 0.25  # lambda is capped (at most one order every 4 days on average)
    dropout_a: float = 0.9  # Beta(a, b) of the dropout probability after each purchase
    dropout_b: float = 3.0
    dropout_max: float = 0.97
    # --- engagement
    base_session_rate: float = 0.02  # browsing sessions/day of every customer (window shoppers)
    sessions_per_purchase: float = 5.0  # extra browsing sessions/day per unit of lambda
    fade_window_min_days: float = 30.0  # browsing fades over the last W days before death,
    fade_window_max_days: float = 60.0  # W ~ Uniform(min, max) per customer
    fade_floor: float = 0.12  # multiplier of the browsing rate at the moment of death
    # --- sessions and funnel
    browse_page_views_extra: float = 0.8  # page_views = 1 + Poisson(.)
    browse_search_prob: float = 0.35
    browse_product_views: float = 1.8  # Poisson mean
    browse_cart_prob: float = 0.12  # abandoned carts (given at least one product view)
    browse_checkout_prob: float = 0.30  # abandoned checkouts (given a cart)
    purchase_page_views: float = 1.2  # Poisson mean (scaled by events_scale)
    purchase_search_prob: float = 0.30  # (scaled by events_scale)
    purchase_extra_views: float = 1.0  # product views of products not bought (scaled)
    items_extra: float = (
        0.7  # new (non-staple, non-complement) picks per order = Poisson(.), capped
    )
    items_max: int = 6  # at most this many new picks; an order with nothing else gets one
    basket_max: int = 10  # distinct products per order, all sources together
    preferred_share: float = 0.75  # share of product picks from the preferred categories
    event_gap_median_s: float = 35.0  # gaps between events in a session: lognormal
    event_gap_sigma: float = 0.9
    event_gap_max_s: int = 900  # always well below the 30-minute inactivity gap
    session_min_gap_s: int = 1860  # sessions of one customer are > 31 minutes apart
    # --- orders
    cancel_prob: float = 0.03
    return_prob: float = 0.05
    welcome_coupon_prob: float = 0.35  # on the first order
    winback_gap_days: float = 90.0  # an order after such a gap may use WINBACK20
    winback_coupon_prob: float = 0.40
    bfcm_coupon_prob: float = 0.35  # Black Friday .. Cyber Monday
    holiday_coupon_prob: float = 0.18  # Dec 1..24 (outside BFCM)
    spring_coupon_prob: float = 0.12  # Mar 15 .. Apr 30
    summer_coupon_prob: float = 0.08  # July
    # --- catalogue
    products_per_customer: float = 0.5  # catalogue size = clip(N * this, min, max)
    products_min: int = 200
    products_max: int = 20000
    brands_per_category: int = 8
    popularity_sigma: float = 1.2  # lognormal product popularity
    # --- product structure (datagen/assortment.py; docs/demo_data.md, "Product structure")
    staples_base: float = 0.3  # staples per customer ~ Poisson(base + per_preferred * k), where k
    staples_per_preferred: float = 1.5  # = preferred categories that have staples
    staples_max: int = 6
    taste_power: float = 0.3  # staples and complement partners are drawn by popularity ** this
    staple_cycle_sigma: float = 0.3  # lognormal spread of a product's and a customer's cycle
    staple_adopt_at_signup: float = 0.4  # share of staples a customer has from sign-up on
    staple_adoption_days: float = 120.0  # else adopted Exponential(mean) days after sign-up
    staple_lifetime_days: float = 365.0  # a staple is dropped Exponential(mean) days after adoption
    staple_restock_prob: float = 0.8  # a staple that ran out is in the next order with this prob.
    complement_share: float = 0.4  # products with a complement (another product that goes with it)
    complement_same_order_prob: float = 0.2  # the complement is in the same order
    complement_next_order_prob: float = 0.45  # ... or in the next one, if within the window below
    complement_window_days: float = 60.0
    substitute_share: float = 0.5  # products in a substitute group of 2-4 (one or the other)
    substitute_loyalty: float = 0.9  # a pick in a group goes to the customer's own member
    launch_share: float = 0.2  # products launched during the window (not orderable before)
    launch_buzz_days: float = 45.0  # new arrivals get extra picks for this long after launch
    new_arrival_prob: float = 0.15  # a pick goes to a product launched in the last buzz days
    # --- time-zone offsets (valid data, only written when defect_rate > 0)
    tz_offset_share: float = 0.01
    # --- seasonality profiles
    signup_season: Seasonality = field(
        default_factory=lambda: Seasonality(
            monthly=_monthly((1.05, 0.95, 1.0, 1.0, 0.98, 0.92, 0.88, 0.9, 1.0, 1.05, 1.3, 1.35)),
            weekly=(1.08, 1.06, 1.02, 1.0, 0.95, 0.86, 0.9),
            hourly=_HOURLY,
            black_friday=1.6,
            trend=0.4,
        )
    )
    browse_season: Seasonality = field(
        default_factory=lambda: Seasonality(
            monthly=_monthly((0.97, 0.9, 0.97, 1.0, 1.0, 0.95, 0.92, 0.93, 0.97, 1.02, 1.2, 1.3)),
            weekly=(0.95, 0.94, 0.95, 0.97, 1.0, 1.15, 1.2),
            hourly=_HOURLY,
            black_friday=1.4,
        )
    )
    purchase_season: Seasonality = field(
        default_factory=lambda: Seasonality(
            monthly=_monthly((0.9, 0.85, 0.95, 0.98, 0.98, 0.95, 0.9, 0.9, 0.95, 1.0, 1.3, 1.45)),
            weekly=(1.0, 0.98, 0.98, 1.0, 1.02, 1.06, 1.1),
            hourly=_HOURLY,
            black_friday=1.8,
        )
    )


@dataclass
class GeneratorConfig:
    """One generator run (mirrors the ``retention generate`` options)."""

    customers: int
    seed: int
    out: Path
    format: OutputFormat = "parquet"
    start: dt.date = dt.date(2023, 1, 1)
    end: dt.date = dt.date(2024, 12, 31)  # inclusive: the window ends at end 23:59:59
    defect_rate: float = 0.0
    chunk_customers: int = 50_000
    events_scale: float = 1.0
    seed_files: bool = False
    truth_dir: Path | None = None
    quiet: bool = False
    model: ModelParams = field(default_factory=ModelParams)
    campaigns: int = 0  # simulated past retention campaigns (0: none, no contacts table)
    campaign_params: CampaignParams = field(default_factory=CampaignParams)

    def validate(self) -> None:
        """Raise ``ValueError`` for options that cannot produce a dataset."""
        if self.customers < 1:
            raise ValueError("--customers must be >= 1")
        if self.format not in ("parquet", "csv"):
            raise ValueError("--format must be parquet or csv")
        if (self.end - self.start).days < 60:
            raise ValueError("the window --start..--end must span at least 60 days")
        if not 0.0 <= self.defect_rate <= 0.5:
            raise ValueError("--defect-rate must be within [0, 0.5]")
        if self.chunk_customers < 1:
            raise ValueError("--chunk-customers must be >= 1")
        if self.events_scale < 0:
            raise ValueError("--events-scale must be >= 0")
        if self.seed_files and self.format != "csv":
            raise ValueError("--seed-files requires --format csv")
        if self.seed < 0:
            raise ValueError("--seed must be >= 0")
        if self.campaigns < 0:
            raise ValueError("--campaigns must be >= 0")
        campaign_dates(self.start, self.end, self.campaigns, self.campaign_params)

    @property
    def tables(self) -> tuple[str, ...]:
        """The data tables this run writes, in write order."""
        return TABLES + CAMPAIGN_TABLES if self.campaigns > 0 else TABLES

    @property
    def blocks_per_chunk(self) -> int:
        """Whole blocks per chunk (the chunk size is rounded up to a multiple of the block)."""
        return max(1, -(-self.chunk_customers // BLOCK_CUSTOMERS))

    @property
    def truth_path(self) -> Path | None:
        """Where ground truth goes (``None``: not written, the seed-files default)."""
        if self.truth_dir is not None:
            return self.truth_dir
        if self.seed_files:
            return None
        return self.out / "ground_truth"
