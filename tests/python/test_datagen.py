"""Tests of the demo data generator (``retention generate`` / ``retention.datagen``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retention.cli import Command, build_parser, builtin_commands
from retention.datagen import TABLE_COLUMNS, GeneratorConfig, generate
from retention.datagen.defects import APPENDED_CLASSES, DEFECT_CLASSES, SPECS
from retention.datagen.writer import write_csv_rows

START = dt.date(2023, 1, 1)
END = dt.date(2024, 12, 31)
TABLE_NAMES = ("customers", "orders", "order_items", "products", "events")


def read_csv_tables(root: Path, prefix: str = "") -> dict[str, pd.DataFrame]:
    """The five contract tables as all-string frames (missing values as empty strings)."""
    return {
        name: pd.read_csv(root / f"{prefix}{name}.csv", dtype=str, keep_default_na=False)
        for name in TABLE_NAMES
    }


def make_dataset(root: Path, **overrides: object) -> Path:
    """Generate a dataset with quiet defaults; returns its directory."""
    options: dict = {
        "customers": 3000,
        "seed": 7,
        "out": root,
        "format": "csv",
        "start": START,
        "end": END,
        "chunk_customers": 2000,
        "quiet": True,
    }
    options.update(overrides)
    generate(GeneratorConfig(**options))
    return root


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def clean(clean_dir: Path) -> dict[str, pd.DataFrame]:
    return read_csv_tables(clean_dir)


@pytest.fixture(scope="module")
def truth(clean_dir: Path) -> pd.DataFrame:
    return pd.read_csv(clean_dir / "ground_truth" / "customers_truth.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def defect_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # same seed and size as `clean_dir`: the underlying clean data are identical
    return make_dataset(tmp_path_factory.mktemp("defects"), defect_rate=0.03)


WINDOW_START = pd.Timestamp(START)
WINDOW_END = pd.Timestamp(END) + pd.Timedelta(hours=23, minutes=59, seconds=59)
EVENT_TYPES = {"page_view", "product_view", "search", "add_to_cart", "begin_checkout", "purchase"}
AMOUNT_RE = r"^\d+\.\d{2}$"


def parse_ts(values: pd.Series) -> pd.Series:
    """Contract timestamps (plain UTC or ISO with offset) -> naive UTC; anything else -> NaT."""
    plain = pd.to_datetime(values, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    iso = pd.to_datetime(values, format="%Y-%m-%dT%H:%M:%S%z", errors="coerce", utc=True)
    return plain.fillna(iso.dt.tz_localize(None))


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --------------------------------------------------------------------------- determinism
def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    kwargs = {"customers": 1500, "format": "parquet", "chunk_customers": 1000, "defect_rate": 0.01}
    a = files_of(make_dataset(tmp_path / "a", **kwargs))
    b = files_of(make_dataset(tmp_path / "b", **kwargs))
    assert "events/part-00001.parquet" in a
    assert "ground_truth/generation_params.json" in a
    assert a == b
    c = files_of(make_dataset(tmp_path / "c", seed=8, **kwargs))
    assert a.keys() == c.keys()
    assert all(a[name] != c[name] for name in a if name.startswith(("orders/", "events/")))


def test_chunk_size_does_not_change_the_data(tmp_path: Path) -> None:
    small = make_dataset(tmp_path / "small", customers=2500, chunk_customers=1000, defect_rate=0.01)
    large = make_dataset(tmp_path / "large", customers=2500, chunk_customers=5000, defect_rate=0.01)
    for name in [*TABLE_NAMES, "ground_truth/customers_truth"]:
        assert (small / f"{name}.csv").read_bytes() == (large / f"{name}.csv").read_bytes(), name
    defects = [
        pd.read_csv(d / "ground_truth" / "defects.csv", dtype=str, keep_default_na=False)
        for d in (small, large)
    ]
    key = ["table", "defect_row_number"]
    pd.testing.assert_frame_equal(
        defects[0].sort_values(key).reset_index(drop=True),
        defects[1].sort_values(key).reset_index(drop=True),
    )


# --------------------------------------------------------------------------- schema
def test_exact_columns_csv(clean: dict[str, pd.DataFrame]) -> None:
    for name in TABLE_NAMES:
        assert tuple(clean[name].columns) == TABLE_COLUMNS[name]


def test_parquet_layout_and_types(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "pq", customers=2100, format="parquet", chunk_customers=1000)
    for name in TABLE_NAMES:
        parts = sorted(p.name for p in (root / name).iterdir())
        expected = 1 if name == "products" else 3
        assert parts == [f"part-{i:05d}.parquet" for i in range(expected)], name
        schema = pq.read_schema(root / name / "part-00000.parquet")
        assert tuple(schema.names) == TABLE_COLUMNS[name]
        for field in schema:
            if field.name.endswith("_id") or field.name.endswith("_at"):
                assert field.type == pa.string(), (name, field)
    orders = pq.read_table(root / "orders").to_pandas()
    assert str(
        pq.read_schema(root / "orders" / "part-00000.parquet").field("order_total").type
    ) == ("decimal128(12, 2)")
    assert orders["order_id"].is_unique
    assert sorted(p.name for p in (root / "ground_truth").iterdir()) == [
        "customer_staples_truth",
        "customers_truth",
        "generation_params.json",
        "products_truth",
    ]
    # with defects every column is a string
    dirty = make_dataset(tmp_path / "dirty", customers=1000, format="parquet", defect_rate=0.02)
    for name in TABLE_NAMES:
        schema = pq.read_schema(dirty / name / "part-00000.parquet")
        assert all(f.type == pa.string() for f in schema), name
    assert (dirty / "ground_truth" / "defects" / "part-00000.parquet").exists()


def test_identifiers_format_and_uniqueness(clean: dict[str, pd.DataFrame]) -> None:
    prefixes = {
        ("customers", "customer_id"): "c",
        ("orders", "order_id"): "o",
        ("products", "product_id"): "p",
        ("events", "event_id"): "e",
        ("events", "session_id"): "s",
    }
    for (table, column), prefix in prefixes.items():
        assert clean[table][column].str.fullmatch(prefix + r"\d{5,}").all(), column
    for table, key in [
        ("customers", ["customer_id"]),
        ("orders", ["order_id"]),
        ("products", ["product_id"]),
        ("events", ["event_id"]),
        ("order_items", ["order_id", "product_id"]),
    ]:
        assert not clean[table].duplicated(key).any(), table
    assert clean["customers"]["email"].str.fullmatch(r"user\d+@example\.com").all()


def test_value_domains(clean: dict[str, pd.DataFrame]) -> None:
    orders, items, products = clean["orders"], clean["order_items"], clean["products"]
    for df, col in [
        (orders, "order_total"),
        (orders, "discount_amount"),
        (items, "unit_price"),
        (products, "price"),
    ]:
        assert df[col].str.fullmatch(AMOUNT_RE).all(), col
    assert set(orders["status"]) == {"completed", "cancelled", "returned"}
    assert set(clean["events"]["event_type"]) == EVENT_TYPES
    assert set(clean["customers"]["acquisition_channel"]) == {
        "organic", "paid_search", "paid_social", "email", "referral", "affiliate",
    }  # fmt: skip
    assert clean["customers"]["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert products["category"].nunique() == 10
    assert (items["quantity"].astype(int) >= 1).all()
    coupon = orders["coupon_code"] != ""
    assert ((orders["discount_amount"] != "0.00") == coupon).all()
    assert {"WELCOME10", "WINBACK20", "BFCM25"} <= set(orders.loc[coupon, "coupon_code"])
    status_share = orders["status"].value_counts(normalize=True)
    assert 0.015 < status_share["cancelled"] < 0.05
    assert 0.03 < status_share["returned"] < 0.08
    # product_id is set exactly for product views and carts
    ev = clean["events"]
    with_product = ev["event_type"].isin(["product_view", "add_to_cart"])
    assert ((ev["product_id"] != "") == with_product).all()


def test_order_totals_reconcile_with_items(clean: dict[str, pd.DataFrame]) -> None:
    items = clean["order_items"].assign(
        cents=lambda d: d["quantity"].astype(int) * (d["unit_price"].astype(float) * 100).round()
    )
    subtotal = items.groupby("order_id")["cents"].sum()
    orders = clean["orders"].set_index("order_id")
    total = (orders["order_total"].astype(float) * 100).round()
    discount = (orders["discount_amount"].astype(float) * 100).round()
    assert (subtotal.reindex(orders.index) - discount == total).all()
    assert (total >= 0).all()
    prices = clean["products"].set_index("product_id")["price"]
    assert (items["unit_price"].to_numpy() == prices.loc[items["product_id"]].to_numpy()).all()


def test_referential_integrity(clean: dict[str, pd.DataFrame]) -> None:
    customers = set(clean["customers"]["customer_id"])
    products = set(clean["products"]["product_id"])
    assert set(clean["order_items"]["order_id"]) == set(clean["orders"]["order_id"])
    assert set(clean["orders"]["customer_id"]) <= customers
    assert set(clean["events"]["customer_id"]) <= customers
    assert set(clean["order_items"]["product_id"]) <= products
    viewed = clean["events"]["product_id"]
    assert set(viewed[viewed != ""]) <= products
    # a session belongs to one customer
    assert (clean["events"].groupby("session_id")["customer_id"].nunique() == 1).all()


def test_purchase_events_match_orders_one_to_one(clean: dict[str, pd.DataFrame]) -> None:
    ev, orders = clean["events"], clean["orders"]
    purchases = ev[ev["event_type"] == "purchase"]
    assert len(purchases) == len(orders)
    assert purchases["session_id"].is_unique
    matched = orders.merge(
        purchases,
        left_on=["customer_id", "ordered_at"],
        right_on=["customer_id", "event_at"],
        how="inner",
        validate="one_to_one",
    )
    assert len(matched) == len(orders)
    # the purchase closes its session and the carted products are the ordered items
    last = ev.groupby("session_id")["event_at"].max()
    assert (last.loc[matched["session_id"]].to_numpy() == matched["ordered_at"].to_numpy()).all()
    carts = ev[ev["event_type"] == "add_to_cart"].merge(
        matched[["session_id", "order_id"]], on="session_id"
    )
    carted = set(zip(carts["order_id"], carts["product_id"], strict=True))
    items = clean["order_items"]
    assert carted == set(zip(items["order_id"], items["product_id"], strict=True))


def test_timestamps_within_window_and_after_signup(clean: dict[str, pd.DataFrame]) -> None:
    signup = parse_ts(clean["customers"].set_index("customer_id")["signup_at"])
    assert signup.notna().all()
    assert signup.min() >= WINDOW_START
    assert signup.max() <= WINDOW_END - pd.Timedelta(days=30)
    for table, column in [("orders", "ordered_at"), ("events", "event_at")]:
        df = clean[table]
        ts = parse_ts(df[column])
        assert ts.notna().all()
        assert ts.min() >= WINDOW_START and ts.max() <= WINDOW_END
        assert (ts.to_numpy() >= signup.loc[df["customer_id"]].to_numpy()).all(), table


def test_sessions_are_separated_by_thirty_minutes(clean: dict[str, pd.DataFrame]) -> None:
    ev = clean["events"].assign(t=lambda d: parse_ts(d["event_at"]))
    ev = ev.sort_values(["customer_id", "t", "event_id"])
    gap = ev["t"].diff().dt.total_seconds()
    same_customer = ev["customer_id"].eq(ev["customer_id"].shift())
    same_session = ev["session_id"].eq(ev["session_id"].shift())
    assert (gap[same_session] < 30 * 60).all()
    assert (gap[same_customer & ~same_session] > 30 * 60).all()
    # sessionising by a 30-minute gap recovers the session ids exactly
    assert (same_session[same_customer] == (gap[same_customer] <= 30 * 60)).all()


# --------------------------------------------------------------------------- ground truth
def _orders_with_truth(
    clean: dict[str, pd.DataFrame], truth: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    orders = clean["orders"].assign(t=lambda d: parse_ts(d["ordered_at"]))
    truth = truth.assign(
        death=lambda d: pd.to_datetime(d["death_at"].replace("", None)),
        signup=lambda d: parse_ts(
            d["customer_id"].map(clean["customers"].set_index("customer_id")["signup_at"])
        ),
    ).set_index("customer_id")
    return orders, truth


def test_truth_table_is_complete(clean: dict[str, pd.DataFrame], truth: pd.DataFrame) -> None:
    assert len(truth) == len(clean["customers"])
    assert set(truth["customer_id"]) == set(clean["customers"]["customer_id"])
    assert (truth["is_alive_at_end"] == (truth["death_at"] == "")).all()
    assert set(truth["archetype"]) == {"loyal", "regular", "occasional", "one_and_done"}
    assert truth["preferred_categories"].str.fullmatch(r"[a-z]+(\|[a-z]+){0,2}").all()
    assert 0.2 < truth["is_alive_at_end"].mean() < 0.8
    assert 40 < 1 / truth["purchase_rate_per_day"].mean() < 70


def test_no_orders_after_death_and_death_is_last_order(
    clean: dict[str, pd.DataFrame], truth: pd.DataFrame
) -> None:
    orders, truth = _orders_with_truth(clean, truth)
    death = orders["customer_id"].map(truth["death"])
    assert not (orders["t"] > death).any()
    last = orders.groupby("customer_id")["t"].max()
    dead = truth[truth["death"].notna()]
    assert (last.loc[dead.index] == dead["death"]).all()
    events = clean["events"].assign(t=lambda d: parse_ts(d["event_at"]))
    assert not (events["t"] > events["customer_id"].map(truth["death"])).any()


def test_alive_customers_buy_more_recently(
    clean: dict[str, pd.DataFrame], truth: pd.DataFrame
) -> None:
    orders, truth = _orders_with_truth(clean, truth)
    recent = orders[orders["t"] > WINDOW_END - pd.Timedelta(days=90)]
    per_customer = recent.groupby("customer_id").size().reindex(truth.index, fill_value=0)
    alive = truth["is_alive_at_end"]
    assert per_customer[alive].mean() > 3 * per_customer[~alive].mean()


def test_engagement_fades_before_death(clean: dict[str, pd.DataFrame], truth: pd.DataFrame) -> None:
    _, truth = _orders_with_truth(clean, truth)
    ev = clean["events"]
    bought = set(ev.loc[ev["event_type"] == "purchase", "session_id"])
    browse = (
        ev[~ev["session_id"].isin(bought)]
        .drop_duplicates("session_id")  # events are in time order within a session
        .assign(start=lambda d: parse_ts(d["event_at"]))
    )
    dead = truth[
        truth["death"].notna() & (truth["death"] - truth["signup"] > pd.Timedelta(days=120))
    ]
    assert len(dead) > 100
    browse = browse[browse["customer_id"].isin(dead.index)]
    before = (browse["customer_id"].map(dead["death"]) - browse["start"]).dt.days
    last_30_rate = ((before >= 0) & (before < 30)).sum() / 30
    prior_60_rate = ((before >= 30) & (before < 90)).sum() / 60
    assert last_30_rate < 0.6 * prior_60_rate


def test_observed_purchase_rate_tracks_lambda(
    clean: dict[str, pd.DataFrame], truth: pd.DataFrame
) -> None:
    orders, truth = _orders_with_truth(clean, truth)
    until = truth["death"].fillna(WINDOW_END)
    exposure = (until - truth["signup"]).dt.days
    n_orders = orders.groupby("customer_id").size().reindex(truth.index, fill_value=0)
    long = exposure > 180
    observed = n_orders[long] / exposure[long]
    corr = observed.corr(truth.loc[long, "purchase_rate_per_day"], method="spearman")
    assert corr > 0.5


def test_seasonality_is_visible(clean: dict[str, pd.DataFrame]) -> None:
    t = parse_ts(clean["orders"]["ordered_at"])
    nov_dec_days = 2 * 61
    expected_share = nov_dec_days / ((WINDOW_END - WINDOW_START).days + 1)
    assert t.dt.month.isin([11, 12]).mean() > 1.15 * expected_share
    ev_t = parse_ts(clean["events"]["event_at"])
    weekend = ev_t.dt.day_of_week >= 5
    assert weekend.mean() > 1.05 * 2 / 7
    signup = parse_ts(clean["customers"]["signup_at"])
    assert (signup.dt.day_of_week == 0).mean() > (signup.dt.day_of_week == 5).mean()


def test_channel_shifts_loyalty(truth: pd.DataFrame, clean: dict[str, pd.DataFrame]) -> None:
    channel = truth["customer_id"].map(
        clean["customers"].set_index("customer_id")["acquisition_channel"]
    )
    dropout = truth.groupby(channel)["dropout_prob"].mean()
    assert dropout["referral"] < dropout["paid_social"]
    assert dropout["email"] < dropout["paid_social"]


# --------------------------------------------------------------------------- product structure
@pytest.fixture(scope="module")
def products_truth(clean_dir: Path) -> pd.DataFrame:
    return pd.read_csv(clean_dir / "ground_truth" / "products_truth.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def staples_truth(clean_dir: Path) -> pd.DataFrame:
    return pd.read_csv(clean_dir / "ground_truth" / "customer_staples_truth.csv")


@pytest.fixture(scope="module")
def purchases(clean: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Completed order lines with customer and time."""
    orders = clean["orders"].assign(t=lambda d: parse_ts(d["ordered_at"]))
    lines = clean["order_items"].merge(
        orders[["order_id", "customer_id", "t", "status"]], on="order_id"
    )
    return lines[lines["status"] == "completed"]


def test_product_truth_describes_every_product(
    clean: dict[str, pd.DataFrame], products_truth: pd.DataFrame
) -> None:
    products = clean["products"]
    assert list(products_truth["product_id"]) == list(products["product_id"])
    assert (products_truth["category"] == products["category"]).all()
    staple_categories = set(products_truth.loc[products_truth["is_staple"], "category"])
    assert staple_categories <= {"grocery", "beauty", "home", "sports"}
    assert "grocery" in staple_categories
    partners = products_truth["complement_product_id"]
    assert set(partners[partners != ""]) <= set(products["product_id"])
    assert 0.25 < (partners != "").mean() < 0.45
    launched = products_truth["launched_at"] != ""
    assert 0.1 < launched.mean() < 0.3
    groups = products_truth[products_truth["substitute_group"] != ""].groupby("substitute_group")
    assert groups["category"].nunique().eq(1).all()  # substitutes share a category
    assert groups.size().between(2, 4).all()


def test_nothing_is_bought_or_viewed_before_its_launch(
    clean: dict[str, pd.DataFrame], products_truth: pd.DataFrame, purchases: pd.DataFrame
) -> None:
    launch = parse_ts(products_truth.set_index("product_id")["launched_at"].replace("", None))
    assert launch.notna().sum() > 50
    bought_at = purchases["product_id"].map(launch)
    assert not (purchases["t"] < bought_at).any()
    views = clean["events"][clean["events"]["product_id"] != ""]
    viewed_at = parse_ts(views["event_at"])
    assert not (viewed_at < views["product_id"].map(launch)).any()
    # new arrivals sell most right after launch (the buzz), so recent popularity differs
    since = (purchases["t"] - bought_at).dt.days
    first = ((since >= 0) & (since < 45)).sum() / 45
    later = ((since >= 45) & (since < 135)).sum() / 90
    assert first > 1.5 * later


def test_staples_are_bought_again_and_on_their_cycle(
    purchases: pd.DataFrame, staples_truth: pd.DataFrame
) -> None:
    days = purchases.assign(day=purchases["t"].dt.floor("D"))
    days = days.drop_duplicates(["customer_id", "product_id", "day"])
    per_pair = days.groupby(["customer_id", "product_id"])["day"].agg(["size", "min", "max"])
    staple_keys = pd.MultiIndex.from_frame(staples_truth[["customer_id", "product_id"]])
    is_staple = per_pair.index.isin(staple_keys)
    assert is_staple.sum() > 300
    # a customer's staples are bought again far more often than their other products
    repeat = per_pair["size"] >= 2
    assert repeat[is_staple].mean() > 4 * repeat[~is_staple].mean()
    # and not faster than their cycle: the mean gap is at least ~the personal cycle
    cycle = staples_truth.set_index(["customer_id", "product_id"])["cycle_days"]
    often = per_pair[is_staple & (per_pair["size"] >= 3)]
    gap = (often["max"] - often["min"]).dt.days / (often["size"] - 1)
    assert len(often) > 30
    assert (gap >= 0.8 * cycle.reindex(often.index)).mean() > 0.9


def test_complements_are_bought_by_the_same_customers(
    purchases: pd.DataFrame, products_truth: pd.DataFrame
) -> None:
    partner = products_truth.set_index("product_id")["complement_product_id"]
    partner = partner[partner != ""]
    bought = purchases.groupby("customer_id")["product_id"].apply(set)
    buyers = purchases.groupby("product_id")["customer_id"].nunique()
    n = bought.size
    with_partner, base = [], []
    for product, other in partner.items():
        has = bought[bought.map(lambda s, p=product: p in s)]
        if len(has) >= 10 and other in buyers.index:
            with_partner.append(has.map(lambda s, o=other: o in s).mean())
            base.append(buyers[other] / n)
    assert len(with_partner) > 30
    assert np.mean(with_partner) > 5 * np.mean(base)


def test_substitutes_are_bought_one_or_the_other(
    purchases: pd.DataFrame, products_truth: pd.DataFrame
) -> None:
    group = products_truth.set_index("product_id")["substitute_group"]
    lines = purchases.assign(group=purchases["product_id"].map(group))
    lines = lines[lines["group"] != ""]
    members = lines.groupby(["customer_id", "group"])["product_id"].nunique()
    assert len(members) > 500
    assert (members >= 2).mean() < 0.1


# --------------------------------------------------------------------------- defects
@pytest.fixture(scope="module")
def dirty(defect_dir: Path) -> dict[str, pd.DataFrame]:
    return read_csv_tables(defect_dir)


@pytest.fixture(scope="module")
def defects(defect_dir: Path) -> pd.DataFrame:
    return pd.read_csv(
        defect_dir / "ground_truth" / "defects.csv", dtype=str, keep_default_na=False
    ).astype({"defect_row_number": int})


def _count(defects: pd.DataFrame, table: str, cls: str) -> int:
    return int(((defects["table"] == table) & (defects["defect_class"] == cls)).sum())


def test_every_defect_class_is_injected(defects: pd.DataFrame, defect_dir: Path) -> None:
    assert set(defects["defect_class"]) == set(DEFECT_CLASSES)
    params = json.loads((defect_dir / "ground_truth" / "generation_params.json").read_text())
    recorded = defects.groupby(["table", "defect_class"]).size()
    for table, classes in params["defects"].items():
        for cls, n in classes.items():
            assert recorded[(table, cls)] == n
    assert params["defects_total"] == len(defects)
    for table, n_rows in params["rows"].items():  # roughly the requested rate
        share = (defects["table"] == table).sum() / n_rows
        assert share == pytest.approx(0.03, abs=0.015 if n_rows > 2000 else 0.03), table


def test_defect_counts_match_the_data(
    dirty: dict[str, pd.DataFrame], defects: pd.DataFrame
) -> None:
    for table, spec in SPECS.items():
        df = dirty[table]
        assert (df[spec.null_column] == "").sum() == _count(defects, table, "null_key"), table
        if spec.timestamp:
            raw = df[spec.timestamp]
            ts = parse_ts(raw)
            assert ts.isna().sum() == _count(defects, table, "unparseable_timestamp"), table
            assert (ts.dt.year == 2099).sum() == _count(defects, table, "future_timestamp")
        if spec.amount:
            raw = df[spec.amount]
            numeric = raw.str.fullmatch(r"-?\d+\.\d{2}")
            assert (~numeric).sum() == _count(defects, table, "non_numeric_amount"), table
            negative = raw[numeric].astype(float) < 0
            assert negative.sum() == _count(defects, table, "negative_amount"), table
        key = list(spec.key)
        keyed = df[(df[key] != "").all(axis=1)]  # null-keyed rows may coincide by chance
        exact = keyed.duplicated().sum()
        assert exact == _count(defects, table, "exact_duplicate"), table
        assert keyed.duplicated(key).sum() - exact == _count(defects, table, "key_duplicate")
    events = dirty["events"]
    unknown = ~events["event_type"].isin(EVENT_TYPES)
    assert unknown.sum() == _count(defects, "events", "unknown_event_type")
    assert set(events.loc[unknown, "event_type"]) == {"hover"}
    # orphans: items of orders that do not exist = injected orphans + items of null-keyed orders
    items = dirty["order_items"]
    missing = ~items["order_id"].isin(set(dirty["orders"]["order_id"])) & (items["order_id"] != "")
    nulled = defects[(defects["table"] == "orders") & (defects["defect_class"] == "null_key")]
    of_nulled = items["order_id"].isin(set(nulled["key_value"])).sum()
    assert missing.sum() == _count(defects, "order_items", "orphan_order_item") + of_nulled


def test_defect_locators_point_at_the_rows(
    dirty: dict[str, pd.DataFrame], defects: pd.DataFrame
) -> None:
    for record in defects.itertuples(index=False):
        row = dirty[record.table].iloc[record.defect_row_number - 1]
        if record.column:
            assert row[record.column] == record.written_value, record
        key = "|".join(row[k] for k in SPECS[record.table].key)
        if record.defect_class not in ("null_key", "orphan_order_item"):
            assert key == record.key_value, record


def test_undoing_recorded_defects_restores_the_clean_data(
    dirty: dict[str, pd.DataFrame], defects: pd.DataFrame, clean: dict[str, pd.DataFrame]
) -> None:
    """The same seed without defects gives the same data: every change must be recorded."""
    for table, spec in SPECS.items():
        df = dirty[table].copy()
        mine = defects[defects["table"] == table]
        in_place = mine[~mine["defect_class"].isin(APPENDED_CLASSES)]
        for column, records in in_place.groupby("column"):
            df.loc[records["defect_row_number"].to_numpy() - 1, column] = records[
                "original_value"
            ].to_numpy()
        appended = mine[mine["defect_class"].isin(APPENDED_CLASSES)]["defect_row_number"] - 1
        df = df.drop(index=appended.to_numpy()).reset_index(drop=True)
        if spec.timestamp:
            offset = df[spec.timestamp].str.contains("T")
            utc = parse_ts(df.loc[offset, spec.timestamp]).dt.strftime("%Y-%m-%d %H:%M:%S")
            df.loc[offset, spec.timestamp] = utc
        pd.testing.assert_frame_equal(df, clean[table], obj=table)


def test_mixed_timezone_offsets_are_counted(
    dirty: dict[str, pd.DataFrame], defect_dir: Path
) -> None:
    params = json.loads((defect_dir / "ground_truth" / "generation_params.json").read_text())
    counts = params["tz_offset_timestamps"]
    for table, column in [
        ("customers", "signup_at"),
        ("orders", "ordered_at"),
        ("events", "event_at"),
    ]:
        offset = dirty[table][column].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
        assert offset.sum() == counts[table] > 0, table
    assert params["tz_offset_timestamps_total"] == sum(counts.values())


def test_clean_run_has_no_offsets_or_defect_table(clean_dir: Path, clean: dict) -> None:
    params = json.loads((clean_dir / "ground_truth" / "generation_params.json").read_text())
    assert params["defects_total"] == 0 and params["tz_offset_timestamps_total"] == 0
    assert not (clean_dir / "ground_truth" / "defects.csv").exists()
    assert not clean["events"]["event_at"].str.contains("T").any()


# --------------------------------------------------------------------------- writer and CLI
def test_csv_writer_quotes_like_the_csv_module() -> None:
    values = ["plain", "12,50", 'say "hi"', "two\nlines", None, ""]
    table = pa.table({"a": pa.array(values), "b": pa.array([str(i) for i in range(6)])})
    buf = io.BytesIO()
    write_csv_rows(table, buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue().decode())))
    assert rows == [[v or "", str(i)] for i, v in enumerate(values)]


def test_commands_are_registered_from_a_list() -> None:
    seen: list[str] = []
    extra = Command("hello", "say hello", lambda p: p.add_argument("--name"), lambda a: 0)
    parser = build_parser([extra])
    args = parser.parse_args(["hello", "--name", "x"])
    seen.append(args.name)
    assert seen == ["x"] and args._run(args) == 0
    names = [c.name for c in builtin_commands()]
    assert names == ["generate", "load-cdnow", "summary", "query", "report"]


def test_cli_generate_seed_files(tmp_path: Path) -> None:
    out = tmp_path / "seeds"
    cmd = [
        sys.executable, "-m", "retention.cli", "generate", "--customers", "1200", "--seed", "3",
        "--format", "csv", "--seed-files", "--out", str(out), "--events-scale", "0.2",
        "--defect-rate", "0.01", "--start", "2023-01-01", "--end", "2023-12-31", "--quiet",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "orders" in result.stdout and "events" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(f"raw_{t}.csv" for t in TABLE_NAMES)
    tables = read_csv_tables(out, prefix="raw_")
    # dbt seed stores seed files in the warehouse: no raw email there (README, "Privacy")
    assert "email" not in tables["customers"].columns
    assert "acquisition_channel" in tables["customers"].columns
    ts = parse_ts(tables["orders"]["ordered_at"]).dropna()
    assert ts[ts.dt.year < 2099].max() <= pd.Timestamp("2023-12-31 23:59:59")
    bad = subprocess.run(
        [sys.executable, "-m", "retention.cli", "generate", "--customers", "10", "--seed", "1",
         "--out", str(tmp_path / "x"), "--format", "parquet", "--seed-files"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "seed-files" in bad.stderr


def test_cli_generate_truth_dir_and_progress(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "retention.cli", "generate", "--customers", "1000", "--seed", "1",
        "--out", str(tmp_path / "d"), "--format", "csv", "--seed-files",
        "--truth-dir", str(tmp_path / "t"), "--events-scale", "0.1",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "100%" in result.stderr  # the progress bar goes to stderr
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [
        "customer_staples_truth.csv",
        "customers_truth.csv",
        "generation_params.json",
        "products_truth.csv",
    ]


# --------------------------------------------------------------------------- scale
_PEAK_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from retention.datagen import GeneratorConfig, generate
    summary = generate(GeneratorConfig(customers=int(sys.argv[1]), seed=5, out=Path(sys.argv[2]),
                                       chunk_customers=4000, quiet=True))
    # This process's own peak (kB). Not ru_maxrss: Linux keeps it across exec, so it starts at
    # the RSS of the pytest worker that forked us (738 MB in one make test run).
    status = Path("/proc/self/status")
    hwm = [l for l in status.read_text().splitlines() if l.startswith("VmHWM:")] if status.exists() else []
    peak = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak, summary.rows["events"])
    """
)


def _peak_rss_kb(customers: int, out: Path) -> tuple[int, int]:
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(customers), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, events = result.stdout.split()
    return int(peak), int(events)


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_customers(tmp_path: Path) -> None:
    # 2 and 10 chunks of 4,000 customers (~0.8M and ~4M events). Measured on 2026-12-03: both
    # peaks ~250 MB; the large run generated in one chunk (holding every event) peaks at ~750 MB.
    small_peak, small_events = _peak_rss_kb(8_000, tmp_path / "small")
    large_peak, large_events = _peak_rss_kb(40_000, tmp_path / "large")
    assert large_events > 4.5 * small_events
    # one chunk at a time: the peak barely moves (it would grow by ~500 MB otherwise)
    assert large_peak < 1.25 * small_peak + 50_000, (small_peak, large_peak)
    assert large_peak < 600_000  # kB
    parts = sorted(p.name for p in (tmp_path / "large" / "events").iterdir())
    assert len(parts) == 10
    np.testing.assert_equal(len(pq.read_schema(tmp_path / "large" / "events" / parts[0])), 6)
