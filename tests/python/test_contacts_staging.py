"""The optional contacts source (issue 18): a raw_path folder with contacts.csv builds its
staging chain, and every raw row ends clean or quarantined with the expected reason.

One small build of staging and the quality mart (orders and contacts only), checked row
by row: the outcome of each CSV line, the clean rows' typed values, the quarantine and
fct_source_quality counts (raw = clean + quarantined), that every column of the contacts
models is described, and the clear error when contacts is on with only the demo seeds.
The build also runs the contacts unit tests (_shop__unit_tests.yml), which `make unit`
leaves out: they need enable_contacts and a raw source.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbt_runner import REPO_ROOT, query, run_dbt

pytestmark = pytest.mark.integration  # dbt builds

HEADER = "contact_id,customer_id,campaign_id,contacted_at,assignment,offer_type,offer_cost,channel"

# (CSV line after the header, outcome); {c} is a customer id from the demo orders, the
# same for every row of a contact_id.
ROWS = [
    ("x01,{c},k1,2024-11-01 10:00:00,treatment,win_back_discount,5.00,email", "clean"),
    ("x02,{c},k1,2024-11-01 10:05:00,control,,,email", "clean"),
    ("x03,{c},k1,2024-11-01T12:00:00+02:00, Treatment ,Loyalty_Perk,3, SMS ", "clean"),
    ("x04,{c},k1,2024-11-01,CONTROL,,0,", "clean"),
    ("x05,{c},k1,2024-11-02 09:00:00Z,treatment,reengagement_email,0.5,email", "clean"),
    ("x06,{c},k1,2024-11-02 09:00:00,control,,,email", "clean"),
    ("x07,{c},k1,2024-11-02 09:30:00,treatment,personal_coupon,5,email", "clean"),
    ("x08,{c},k1,2024-11-02 09:45:00,control,,,email", "clean"),
    ("x09,{c},k2,2024-12-01 08:00:00,treatment,win_back_discount,5,sms", "clean"),
    ("x10,{c},k2,2024-12-01 08:00:00,control,,,sms", "clean"),
    ("x11,{c},k2,2024-12-01 08:10:00,treatment,win_back_discount,5,sms", "clean"),
    ("x12,{c},k2,2024-12-01 08:20:00,control,,,sms", "clean"),
    ("x13,{c},k2,2024-12-01 08:30:00,treatment,win_back_discount,,sms", "clean"),
    ("x14,{c},k2,2024-12-01 08:40:00,control,,,sms", "clean"),
    ("x15,{c},k2,2024-12-01 08:50:00,treatment,loyalty_perk,3,email", "clean"),
    ("x16,{c},k2,2024-12-01 09:00:00,control,,,email", "clean"),
    ("x17,{c},k2,2024-12-02 09:00:00,treatment,loyalty_perk,3,email", "clean"),
    ("x18,{c},k2,2024-12-02 09:10:00,control,,,email", "clean"),
    ("x19,{c},k2,2024-12-02 09:20:00,treatment,loyalty_perk,3,email", "clean"),
    ("x20,{c},k2,2024-12-02 09:30:00,control,,,email", "clean"),
    ("x21,{c},k3,2024-12-10 10:00:00,treatment,cart_reminder_email,0.5,email", "clean"),
    ("x22,{c},k3,2024-12-10 10:00:00,control,,,email", "clean"),
    ("x23,{c},k3,2024-12-10 10:00:00,treatment,cart_reminder_email,0.5,email", "clean"),
    ("x24,{c},k3,2024-12-10 10:00:00,control,,,email", "clean"),
    # one row per quarantine reason
    (",{c},k3,2024-12-10 10:00:00,control,,,email", "null_key"),
    ("x27, ,k3,2024-12-10 10:00:00,control,,,email", "null_key"),
    ("x28,{c},,2024-12-10 10:00:00,control,,,email", "null_key"),
    ("x29,{c},k3,,control,,,email", "missing_value"),
    ("x30,{c},k3,2024-12-10 10:00:00,,,,email", "missing_value"),
    ("x31,{c},k3,2024-12-10 10:00:00,treatment,,1,email", "missing_value"),
    ("x32,{c},k3,2024-13-10 10:00:00,control,,,email", "unparseable_timestamp"),
    ('x33,{c},k3,2024-12-10 10:00:00,treatment,loyalty_perk,"0,50",email', "non_numeric_amount"),
    ("x34,{c},k3,2024-12-10 10:00:00,treatment,loyalty_perk,-1,email", "negative_amount"),
    ("x35,{c},k3,2099-01-01 10:00:00,treatment,loyalty_perk,3,email", "future_timestamp"),
    ("x36,{c},k3,2024-12-10 10:00:00,holdout,,,email", "invalid_assignment"),
    # an identical copy (the later one is kept), and an older version of x38
    ("x37,{c},k3,2024-12-11 10:00:00,control,,,email", "exact_duplicate"),
    ("x37,{c},k3,2024-12-11 10:00:00,control,,,email", "clean"),
    ("x38,{c},k3,2024-12-12 10:00:00,treatment,loyalty_perk,3,email", "clean"),
    ("x38,{c},k3,2024-12-11 10:00:00,treatment,loyalty_perk,2,email", "key_duplicate"),
    # last, so that every row before it is data row (line - 1)
    ("x25,{c},k3,2024-12-10 10:00:00,control,,,email,extra", "malformed_line"),
]
CONTACTS_MODELS = ["base_shop__contacts", "base_shop__contacts_checked", "stg_shop__contacts"]
ONLY_ORDERS_AND_CONTACTS = {
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
    "enable_contacts": True,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """The folder (60 demo orders, contacts.csv over their customers), built: staging,
    its unit tests and data tests, and the quality mart. Returns (database, work folder,
    the customer id of each row)."""
    work = tmp_path_factory.mktemp("contacts")
    raw = work / "raw"
    raw.mkdir()
    orders = (REPO_ROOT / "seeds/demo/raw_orders.csv").read_text().splitlines()[:61]
    (raw / "orders.csv").write_text("\n".join(orders) + "\n")
    customers = sorted({line.split(",")[1] for line in orders[1:]})
    row_customers = [
        customers[int(line.split(",")[0][1:] or 0) % len(customers)] for line, _ in ROWS
    ]
    lines = [line.format(c=c) for (line, _), c in zip(ROWS, row_customers, strict=True)]
    (raw / "contacts.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    db = work / "contacts.duckdb"
    run_dbt(
        ["build", "--select", "staging", "marts.quality"],
        db,
        work_dir=work,
        dbt_vars={"raw_path": str(raw), **ONLY_ORDERS_AND_CONTACTS},
    )
    return db, work, row_customers


def test_every_raw_row_has_its_expected_outcome(built) -> None:
    db, _, _ = built
    found = query(
        db,
        "select coalesce(source_row + 1, source_line), coalesce(quarantine_reason, 'clean')"
        " from staging.base_shop__contacts_checked order by 1",
    )
    # CSV line n (1 = the header) is data row n - 1
    assert found == [(number, outcome) for number, (_, outcome) in enumerate(ROWS, start=2)]


def test_clean_rows_are_typed(built) -> None:
    db, _, row_customers = built
    rows = {
        row[0]: row[1:]
        for row in query(
            db,
            "select contact_id, customer_id, campaign_id, strftime(contacted_at, '%Y-%m-%d %H:%M:%S'),"
            " cast(contacted_date as varchar), assignment, is_treatment, offer_type,"
            " cast(offer_cost as double), channel from staging.stg_shop__contacts",
        )
    }
    assert len(rows) == sum(outcome == "clean" for _, outcome in ROWS)
    assert rows["x01"] == (
        row_customers[0], "k1", "2024-11-01 10:00:00", "2024-11-01", "treatment", True,
        "win_back_discount", 5.0, "email",
    )  # fmt: skip
    # control: not contacted, no offer, no cost
    assert rows["x02"][4:] == ("control", False, None, 0.0, "email")
    # an offset is converted to UTC; assignment, offer_type and channel are normalised
    assert rows["x03"][2:] == (
        "2024-11-01 10:00:00", "2024-11-01", "treatment", True, "loyalty_perk", 3.0, "sms",
    )  # fmt: skip
    assert rows["x04"][2:] == (
        "2024-11-01 00:00:00", "2024-11-01", "control", False, None, 0.0, None,
    )  # fmt: skip
    # a treatment row without a cost keeps a null cost
    assert rows["x13"][7] is None
    # the latest version of a key wins
    assert rows["x38"][2] == "2024-12-12 10:00:00"


def test_quarantine_and_quality_reconcile(built) -> None:
    db, _, _ = built
    expected: dict[str, int] = {}
    for _, outcome in ROWS:
        expected[outcome] = expected.get(outcome, 0) + 1
    quality = dict(
        query(
            db,
            "select outcome, row_count from marts.fct_source_quality where source_table = 'contacts'",
        )
    )
    assert quality == expected
    assert query(
        db,
        "select distinct raw_row_count from marts.fct_source_quality where source_table = 'contacts'",
    ) == [(len(ROWS),)]
    quarantined = query(
        db,
        "select record_key, quarantine_reason, source_file, source_line is not null,"
        " malformed_reason is not null from staging.stg_shop__quarantined_rows"
        " where source_table = 'contacts' and quarantine_reason = 'malformed_line'",
    )
    assert quarantined == [(None, "malformed_line", "contacts.csv", True, True)]
    [(count,)] = query(
        db,
        "select count(*) from staging.stg_shop__quarantined_rows where source_table = 'contacts'",
    )
    assert count == len(ROWS) - expected["clean"]


def test_every_column_of_the_contacts_models_is_described(built) -> None:
    db, work, _ = built
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["name"] in CONTACTS_MODELS}
    assert sorted(nodes) == sorted(CONTACTS_MODELS)
    for name, node in nodes.items():
        columns = [
            c for (c,) in query(
                db,
                "select column_name from information_schema.columns"
                " where table_schema = 'staging' and table_name = ? order by ordinal_position",
                [name],
            )
        ]  # fmt: skip
        described = {c for c, doc in node["columns"].items() if doc["description"].strip()}
        assert columns, name
        assert sorted(set(columns) - described) == [], name
        assert sorted(described - set(columns)) == [], name


def test_the_demo_contacts_seed_follows_the_switch(tmp_path: Path) -> None:
    """The demo seeds hold eight generated campaigns; the seed and the campaign models are
    in the build only with enable_contacts (as `make demo` sets it), and the staging model
    reads the seed then."""
    enabled = {}
    for switch in (False, True):
        target = tmp_path / f"target_{switch}"
        run_dbt(
            ["parse", "--target-path", str(target)],
            tmp_path / "demo.duckdb",
            dbt_vars={"enable_contacts": switch},
        )
        manifest = json.loads((target / "manifest.json").read_text())
        nodes = manifest["nodes"]
        enabled[switch] = {
            name for name in ("seed.retention.raw_contacts", "model.retention.stg_shop__contacts",
                              "model.retention.fct_campaign_results") if name in nodes
        }  # fmt: skip
        if switch:
            base = nodes["model.retention.base_shop__contacts"]
            assert "seed.retention.raw_contacts" in base["depends_on"]["nodes"]
    assert enabled[False] == set()
    assert len(enabled[True]) == 3
    header = (REPO_ROOT / "seeds/demo/raw_contacts.csv").read_text().splitlines()[0]
    assert header.split(",")[:6] == [
        "contact_id", "customer_id", "campaign_id", "contacted_at", "assignment", "offer_type"
    ]  # fmt: skip
