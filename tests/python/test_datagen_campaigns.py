"""Simulated retention campaigns of the demo data generator (issue 18, ``--campaigns N``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retention.cli import build_parser
from retention.datagen import TABLE_COLUMNS, GeneratorConfig, generate
from retention.datagen.params import TRUTH_CONTACT_COLUMNS, CampaignParams, campaign_dates

START = dt.date(2023, 1, 1)
END = dt.date(2024, 12, 31)
WINDOW_END = pd.Timestamp(END) + pd.Timedelta(hours=23, minutes=59, seconds=59)


def make(root: Path, **overrides: object) -> Path:
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


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def campaign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make(tmp_path_factory.mktemp("campaigns"), campaigns=4)


@pytest.fixture(scope="module")
def contacts(campaign_dir: Path) -> pd.DataFrame:
    return pd.read_csv(campaign_dir / "contacts.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def truth(campaign_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(campaign_dir / "ground_truth" / "contacts_truth.csv")
    for column in ("retained_if_discount", "retained_if_free_shipping"):
        frame[column] = frame[column].astype("boolean")
    return frame


# --------------------------------------------------------------------------- opt-in
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_zero_campaigns_writes_exactly_todays_files(tmp_path: Path, fmt: str) -> None:
    kwargs = {"customers": 2500, "format": fmt, "chunk_customers": 1000}
    without = files_of(make(tmp_path / "without", **kwargs))
    zero = files_of(make(tmp_path / "zero", campaigns=0, **kwargs))
    assert without == zero
    assert not any("contacts" in name for name in without)
    params = json.loads(without["ground_truth/generation_params.json"])
    assert "campaigns" not in params and "contacts" not in params["rows"]


def test_cli_passes_campaigns() -> None:
    parser = build_parser()
    base = ["generate", "--customers", "10", "--seed", "1", "--out", "x"]
    assert parser.parse_args(base).campaigns == 0
    assert parser.parse_args([*base, "--campaigns", "3"]).campaigns == 3


def test_campaigns_that_do_not_fit_the_window_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="campaigns"):
        GeneratorConfig(customers=10, seed=1, out=tmp_path, campaigns=20).validate()
    with pytest.raises(ValueError, match="campaigns"):
        GeneratorConfig(customers=10, seed=1, out=tmp_path, campaigns=-1).validate()


# --------------------------------------------------------------------------- contacts table
def test_contacts_follow_the_contract(contacts: pd.DataFrame, campaign_dir: Path) -> None:
    assert tuple(contacts.columns) == TABLE_COLUMNS["contacts"]
    assert contacts["contact_id"].is_unique
    assert contacts["contact_id"].str.fullmatch(r"k\d{7}").all()
    assert contacts["campaign_id"].str.fullmatch(r"C\d{2}").all()
    assert sorted(contacts["campaign_id"].unique()) == ["C01", "C02", "C03", "C04"]
    customers = pd.read_csv(campaign_dir / "customers.csv", dtype=str, keep_default_na=False)
    assert contacts["customer_id"].isin(customers["customer_id"]).all()
    # one contact per customer and campaign
    assert not contacts.duplicated(["customer_id", "campaign_id"]).any()
    control = contacts["assignment"] == "control"
    assert set(contacts["assignment"]) == {"treatment", "control"}
    assert abs(control.mean() - 0.25) < 0.05, control.mean()
    assert (contacts.loc[control, "offer_type"] == "").all()
    assert (contacts.loc[control, "offer_cost"] == "0.00").all()
    assert (contacts.loc[control, "channel"] == "").all()
    treated = contacts[~control]
    cost = treated["offer_type"].map({"discount": "5.00", "free_shipping": "2.00"})
    assert (treated["offer_cost"] == cost).all()
    assert (treated["channel"] == "email").all()
    # even campaigns (C01, C03) test both offers, odd ones only the discount
    offers = treated.groupby("campaign_id")["offer_type"].agg(lambda s: sorted(set(s))).to_dict()
    assert offers["C01"] == offers["C03"] == ["discount", "free_shipping"]
    assert offers["C02"] == offers["C04"] == ["discount"]
    # contacted on the campaign's day, at least 60 days before the window's end
    at = pd.to_datetime(contacts["contacted_at"], format="%Y-%m-%d %H:%M:%S")
    assert (at <= WINDOW_END - pd.Timedelta(days=60)).all()
    assert at.groupby(contacts["campaign_id"]).agg(lambda s: s.dt.date.nunique()).eq(1).all()
    signup = contacts["customer_id"].map(customers.set_index("customer_id")["signup_at"])
    assert (pd.to_datetime(signup) < at).all()
    params = json.loads((campaign_dir / "ground_truth" / "generation_params.json").read_text())
    assert params["rows"]["contacts"] == len(contacts)
    dates = [c["date"] for c in params["campaigns"]["campaigns"]]
    assert dates == [d.isoformat() for d in campaign_dates(START, END, 4, CampaignParams())]
    assert sorted(at.dt.date.astype(str).unique()) == dates


def test_campaign_runs_are_deterministic_and_chunk_independent(
    tmp_path: Path, campaign_dir: Path
) -> None:
    first = files_of(campaign_dir)
    assert files_of(make(tmp_path / "again", campaigns=4)) == first
    chunked = files_of(make(tmp_path / "chunked", campaigns=4, chunk_customers=1000))
    params = "ground_truth/generation_params.json"  # records the chunk size
    assert {k: v for k, v in chunked.items() if k != params} == {
        k: v for k, v in first.items() if k != params
    }
    other = make(tmp_path / "other", campaigns=4, seed=8)
    assert (other / "contacts.csv").read_bytes() != (campaign_dir / "contacts.csv").read_bytes()


def test_campaigns_with_defects_and_parquet(tmp_path: Path) -> None:
    root = make(tmp_path / "pq", customers=1500, format="parquet", campaigns=2, defect_rate=0.01)
    contacts = pd.read_parquet(root / "contacts")
    assert tuple(contacts.columns) == TABLE_COLUMNS["contacts"]
    assert all(contacts[c].map(type).eq(str).all() for c in ("contact_id", "offer_cost"))
    truth = pd.read_parquet(root / "ground_truth" / "contacts_truth")
    assert tuple(truth.columns) == TRUTH_CONTACT_COLUMNS
    assert truth["contact_id"].tolist() == contacts["contact_id"].tolist()


# --------------------------------------------------------------------------- ground truth
def test_truth_describes_every_contact(truth: pd.DataFrame, contacts: pd.DataFrame) -> None:
    assert tuple(truth.columns) == TRUTH_CONTACT_COLUMNS
    merged = contacts.merge(truth, on=["contact_id", "customer_id", "campaign_id"])
    assert len(merged) == len(contacts) == len(truth)
    assert (merged["assignment_x"] == merged["assignment_y"]).all()
    assert (merged["offer_type_x"] == merged["offer_type_y"].fillna("")).all()
    tests_free_shipping = truth["campaign_id"].isin(["C01", "C03"])
    assert truth.loc[tests_free_shipping, "retained_if_free_shipping"].notna().all()
    assert truth.loc[~tests_free_shipping, "retained_if_free_shipping"].isna().all()
    assert truth["retained_if_discount"].notna().all()
    types = set(truth["customer_type"])
    assert types == {"lost_cause", "sleeping_dog", "persuadable", "sure_thing"}
    # the realized outcome is the assigned arm's potential outcome
    arm = truth["offer_type"].fillna("control")
    assigned = [row[f"retained_if_{a}"] for a, (_, row) in zip(arm, truth.iterrows(), strict=True)]
    assert (truth["retained"] == pd.Series(assigned).astype(bool)).all()


def test_true_effects_have_the_types_signs(truth: pd.DataFrame) -> None:
    for offer in ("discount", "free_shipping"):
        effect = truth[f"true_effect_{offer}"]
        kind = truth["customer_type"]
        assert (effect[kind == "sleeping_dog"] < 0).all()
        assert (effect[kind == "persuadable"] > 0).all()
        assert (effect[kind.isin(["lost_cause", "sure_thing"])] == 0).all()
    # the discount is the stronger offer, both ways
    persuadable = truth[truth["customer_type"] == "persuadable"]
    assert (persuadable["true_effect_discount"] > persuadable["true_effect_free_shipping"]).all()


def test_potential_outcomes_differ_by_type(truth: pd.DataFrame) -> None:
    lift = truth["retained_if_discount"].astype(float) - truth["retained_if_control"]
    by_type = lift.groupby(truth["customer_type"]).mean()
    assert by_type["persuadable"] > 0.2, by_type
    assert by_type["sleeping_dog"] < -0.1, by_type
    # lost causes never buy again after a contact, whatever the offer
    lost = truth[truth["customer_type"] == "lost_cause"]
    assert lost["retained"].mean() < 0.02


def test_randomized_difference_recovers_the_true_effect(truth: pd.DataFrame) -> None:
    treated = truth[truth["offer_type"] == "discount"]
    control = truth[truth["assignment"] == "control"]
    diff = treated["retained"].mean() - control["retained"].mean()
    se = np.sqrt(
        treated["retained"].var() / len(treated) + control["retained"].var() / len(control)
    )
    rows = pd.concat([treated, control])
    true = rows["true_effect_discount"].mean()
    assert true > 0
    assert abs(diff - true) < 3 * se, (diff, true, se)


def test_responders_have_the_extra_order(truth: pd.DataFrame, campaign_dir: Path) -> None:
    orders = pd.read_csv(campaign_dir / "orders.csv", dtype=str, keep_default_na=False)
    orders["at"] = pd.to_datetime(orders["ordered_at"], format="%Y-%m-%d %H:%M:%S")
    contacts = pd.read_csv(campaign_dir / "contacts.csv", dtype=str, keep_default_na=False)
    at = pd.to_datetime(contacts.set_index("contact_id")["contacted_at"])
    treated = truth[(truth["customer_type"] == "persuadable") & truth["offer_type"].notna()]
    arm = [row[f"retained_if_{row['offer_type']}"] for _, row in treated.iterrows()]
    # responded: retained under the offer, not without it
    responders = treated[
        pd.Series(arm, index=treated.index).astype(bool) & ~treated["retained_if_control"]
    ]
    assert len(responders) > 20
    merged = responders[["contact_id", "customer_id"]].merge(orders, on="customer_id")
    merged["gap"] = merged["at"] - merged["contact_id"].map(at)
    within = merged[(merged["gap"] >= pd.Timedelta(0)) & (merged["gap"] <= pd.Timedelta(days=20))]
    assert set(within["contact_id"]) == set(responders["contact_id"])
    # and sleeping dogs driven away have no order after the contact
    dogs = truth[(truth["customer_type"] == "sleeping_dog") & truth["offer_type"].notna()]
    arm = [row[f"retained_if_{row['offer_type']}"] for _, row in dogs.iterrows()]
    gone = dogs[~pd.Series(arm, index=dogs.index).astype(bool) & dogs["retained_if_control"]]
    assert len(gone) > 0
    merged = gone[["contact_id", "customer_id"]].merge(orders, on="customer_id")
    assert (merged["at"] < merged["contact_id"].map(at)).all()
