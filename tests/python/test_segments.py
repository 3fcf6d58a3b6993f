"""Tests of the customer segmentation (retention.segments), on synthetic snapshots.

No warehouse needed: the frames carry the as-of columns of fct_customer_snapshots
that segmentation reads (orders-derived features only, as on an orders-only source).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from retention.segments import (
    SegmentSettings,
    SegmentStore,
    fit_segments,
    run_segmentation,
    segment_profiles,
)
from retention.segments.features import FeatureTransform, available_features
from retention.segments.naming import NAME_RULES, Profile, assign_names, eligible_names, rule_name

AS_OF = pd.Timestamp("2025-01-01")

# Latent groups: (days since last order, orders, order value, days since first order), medians.
GROUPS = {
    "champions": (8, 14, 60, 520),
    "new": (12, 1, 45, 20),
    "big spenders": (40, 3, 420, 300),
    "hibernating": (200, 3, 50, 450),
    "lost": (560, 1, 35, 600),
}


def make_snapshots(
    n: int = 1500,
    seed: int = 0,
    groups: dict[str, tuple] | None = None,
    spread: float = 0.25,
    prefix: str = "c",
) -> pd.DataFrame:
    """As-of snapshot rows drawn around the group medians (lognormal noise)."""
    groups = groups or GROUPS
    rng = np.random.default_rng(seed)
    names = list(groups)
    which = rng.integers(0, len(names), size=n)
    centres = np.array([groups[name] for name in names], dtype=float)[which]
    noise = np.exp(rng.normal(0, spread, size=centres.shape))
    values = centres * noise
    recency = np.clip(np.round(values[:, 0]), 1, None)
    orders = np.clip(np.round(values[:, 1]), 1, None)
    order_value = np.round(values[:, 2], 2)
    tenure = np.maximum(np.round(values[:, 3]), recency)
    return pd.DataFrame(
        {
            "customer_id": [f"{prefix}{i:06d}" for i in range(n)],
            "as_of_date": AS_OF,
            "is_scoring_cutoff": True,
            "days_since_last_order": recency,
            "orders_count": orders,
            "avg_order_value": order_value,
            "revenue_total": orders * order_value,
            "days_since_first_order": tenure,
            "true_group": np.array(names)[which],
        }
    )


def settings(**overrides) -> SegmentSettings:
    base = {"k_min": 3, "k_max": 7, "n_init": 4, "hierarchical_sample_size": 500}
    base.update(overrides)
    return SegmentSettings(**base)


def perturb(frame: pd.DataFrame, seed: int, scale: float = 0.03) -> pd.DataFrame:
    """The same customers a little later: every feature moved by a few percent."""
    rng = np.random.default_rng(seed)
    moved = frame.copy()
    for column in ("days_since_last_order", "avg_order_value", "days_since_first_order"):
        moved[column] = np.round(moved[column] * np.exp(rng.normal(0, scale, len(moved))), 2)
    moved["revenue_total"] = moved["orders_count"] * moved["avg_order_value"]
    return moved


@pytest.fixture(scope="module")
def base_frame() -> pd.DataFrame:
    return make_snapshots()


@pytest.fixture(scope="module")
def base_run(base_frame):
    return fit_segments(base_frame, settings())


# ---------- determinism


def test_fit_is_deterministic_and_independent_of_row_order(base_frame, base_run):
    again = fit_segments(base_frame, settings())
    shuffled = fit_segments(base_frame.sample(frac=1.0, random_state=3), settings())
    first = base_run.assign(base_frame)
    for other in (again, shuffled):
        assert other.run_id == base_run.run_id
        assert other.segments.names == base_run.segments.names
        assert other.choice.silhouettes == base_run.choice.silhouettes
        pd.testing.assert_frame_equal(other.assign(base_frame), first)


# ---------- k selection


@pytest.mark.parametrize("true_k", [3, 5])
def test_silhouette_picks_the_true_k_on_separated_blobs(true_k):
    blobs = {
        name: centre
        for name, centre in list(
            {
                "a": (3, 30, 40, 900),
                "b": (600, 1, 40, 700),
                "c": (40, 4, 900, 60),
                "d": (5, 2, 8, 12),
                "e": (150, 12, 300, 400),
            }.items()
        )[:true_k]
    }
    frame = make_snapshots(n=900, seed=true_k, groups=blobs, spread=0.05)
    run = fit_segments(frame, settings(k_min=2, k_max=7))
    assert run.choice.k == true_k, run.choice.silhouettes
    assert max(run.choice.silhouettes, key=run.choice.silhouettes.get) == true_k
    # Every true group lands in one segment.
    labels = run.assign(frame)["segment_id"]
    purity = pd.crosstab(frame["true_group"], labels.to_numpy()).max(axis=1).sum() / len(frame)
    assert purity > 0.99


# ---------- stable identity


@pytest.fixture(scope="module")
def overlapping():
    """Groups that overlap (wide noise), so boundaries are not obvious, and its fit."""
    frame = make_snapshots(n=2000, seed=11, spread=0.6)
    return frame, fit_segments(frame, settings())


@pytest.mark.parametrize("warm_start", [True, False], ids=["warm-start", "matching-only"])
def test_ids_and_names_survive_new_customers_and_drift(overlapping, warm_start):
    base_frame, base_run = overlapping
    newcomers = make_snapshots(n=20, seed=99, spread=0.6, prefix="n")  # 1% new customers
    later = pd.concat([perturb(base_frame, seed=1, scale=0.05), newcomers], ignore_index=True)
    # A negative tolerance never keeps the warm-started solution: matching alone must hold ids.
    refit = fit_segments(
        later, settings(inertia_tolerance=0.02 if warm_start else -1.0), previous=base_run
    )
    assert refit.lineage.previous_run_id == base_run.run_id
    assert refit.choice.init == ("previous centroids" if warm_start else "k-means++")

    before = base_run.assign(base_frame).set_index("customer_id")["segment_id"]
    after = refit.assign(later).set_index("customer_id")["segment_id"]
    kept = (after.reindex(before.index) == before).mean()
    assert kept >= 0.95, f"only {kept:.1%} kept their segment id"

    old_names = dict(zip(base_run.segments.segment_ids, base_run.segments.names, strict=True))
    for segment_id, name in zip(refit.segments.segment_ids, refit.segments.names, strict=True):
        if segment_id in old_names:
            assert name == old_names[segment_id]  # no name moved to another id
    matched = [row for row in refit.lineage.matching if row["matched"]]
    assert len(matched) == base_run.choice.k == refit.choice.k
    assert all(row["old_segment_id"] == row["new_segment_id"] for row in matched)
    assert all(row["distance"] < 0.5 for row in matched)


def test_a_new_kind_of_customer_gets_a_new_id_and_a_unique_name(base_frame):
    three = {name: GROUPS[name] for name in ("champions", "hibernating", "lost")}
    first = fit_segments(make_snapshots(n=900, seed=5, groups=three), settings(k_min=3, k_max=3))
    four = dict(three, new=GROUPS["new"])
    second = fit_segments(
        make_snapshots(n=1200, seed=6, groups=four), settings(k_min=4, k_max=4), previous=first
    )
    assert set(first.segments.segment_ids) < set(second.segments.segment_ids)
    added = set(second.segments.segment_ids) - set(first.segments.segment_ids)
    assert added == {max(first.segments.segment_ids) + 1}
    assert second.lineage.max_segment_id == max(first.segments.segment_ids) + 1
    assert len(set(second.segments.names)) == 4
    for segment_id, name in zip(first.segments.segment_ids, first.segments.names, strict=True):
        assert second.segments.names[second.segments.segment_ids.index(segment_id)] == name
    # ... and when that group disappears again, its id is retired, not reused.
    third = fit_segments(
        make_snapshots(n=900, seed=7, groups=three), settings(k_min=3, k_max=3), previous=second
    )
    assert set(third.segments.segment_ids) == set(first.segments.segment_ids)
    retired = [r for r in third.lineage.matching if r["new_segment_id"] is None]
    assert [r["old_segment_id"] for r in retired] == list(added)
    assert third.lineage.max_segment_id == second.lineage.max_segment_id


def test_k_is_sticky_within_tolerance(base_frame, base_run):
    later = perturb(base_frame, seed=2)
    best = max(base_run.choice.silhouettes, key=base_run.choice.silhouettes.get)
    other = next(k for k in base_run.choice.silhouettes if k != best)
    base_run_other_k = fit_segments(base_frame, settings(k_min=other, k_max=other))
    refit = fit_segments(later, settings(k_tolerance=1.0), previous=base_run_other_k)
    assert refit.choice.k == other and "kept the previous k" in refit.choice.k_reason
    strict = fit_segments(later, settings(k_tolerance=0.0), previous=base_run_other_k)
    assert strict.choice.k == best


# ---------- names


def test_names_are_unique_and_match_the_profiles(base_frame):
    run = fit_segments(base_frame, settings(k_min=5, k_max=5))
    assert len(set(run.segments.names)) == run.choice.k
    assigned = base_frame.assign(segment=run.assign(base_frame)["segment_name"].to_numpy())
    means = assigned.groupby("segment")[["days_since_last_order", "orders_count"]].mean()
    good = [n for n in run.segments.names if n.split(" (")[0] in ("champions", "loyal")]
    bad = [n for n in run.segments.names if n.split(" (")[0] in ("lost", "hibernating")]
    assert good and bad, run.segments.names
    for g in good:
        for b in bad:
            assert means.loc[g, "orders_count"] > means.loc[b, "orders_count"]
            assert means.loc[g, "days_since_last_order"] < means.loc[b, "days_since_last_order"]
    # The planted groups get their own names.
    by_group = pd.crosstab(assigned["true_group"], assigned["segment"]).idxmax(axis=1)
    assert by_group["champions"].startswith("champions")
    assert by_group["new"].startswith("new")
    assert by_group["lost"].startswith("lost")
    assert by_group["big spenders"].startswith("big spenders")
    for description in run.segments.descriptions:
        assert description.startswith("Ordered ") and "days ago on average" in description


def profile(days: float, **levels: float) -> Profile:
    """A centroid last ordering `days` ago, with population percentiles per role."""
    percentiles = {r: (1 - v if r == "recency" else v) for r, v in levels.items()}
    return Profile(percentiles, recency_days=days, horizon_days=90)


def test_rule_table_reads_percentiles_and_recency_bands():
    assert rule_name(profile(10, recency=0.9, frequency=0.9)) == "champions"
    assert rule_name(profile(10, recency=0.9, frequency=0.2, tenure=0.1)) == "new"
    assert rule_name(profile(10, recency=0.9, frequency=0.2, monetary=0.9)) == "big spenders"
    assert rule_name(profile(10, recency=0.9, frequency=0.2, tenure=0.6)) == "promising"
    # Top quarter on recency, but 180 days without an order is not "champions" (CDNOW).
    assert rule_name(profile(150, recency=0.8, frequency=0.85)) == "at risk"
    assert rule_name(profile(150, recency=0.8, frequency=0.3)) == "needs attention"
    assert rule_name(profile(300, recency=0.5, frequency=0.3)) == "hibernating"
    assert rule_name(profile(500, recency=0.4, frequency=0.9)) == "lost"
    assert [r.name for r in NAME_RULES][-1] == "lost"
    # Every recency falls in a band, so every profile gets a name.
    for days in (1, 90, 91, 180, 181, 360, 361, 5000):
        assert eligible_names(profile(days))


def test_names_cascade_to_the_next_rule_then_take_qualifiers():
    top = profile(15, recency=0.95, frequency=0.97, monetary=0.7, tenure=0.5)
    regular = profile(30, recency=0.9, frequency=0.78, monetary=0.55, tenure=0.5)
    # Both satisfy "champions": the higher freshness + frequency keeps it, whatever
    # the order, and the other moves on to the next rule it satisfies.
    assert assign_names([regular, top]) == ["loyal", "champions"]
    assert assign_names([top, regular]) == ["champions", "loyal"]
    # Names kept from the previous run are reserved.
    assert assign_names([regular], reserved={"champions"}) == ["loyal"]
    # Several "lost" segments: the stalest keeps the name, the others are
    # qualified by their most distinctive trait, never twice the same.
    stalest = profile(500, recency=0.2, monetary=0.3, tenure=0.8)
    big = profile(460, recency=0.45, monetary=0.88, tenure=0.75)
    newer = profile(440, recency=0.4, monetary=0.55, tenure=0.2)
    twin = profile(440, recency=0.4, monetary=0.55, tenure=0.2)
    names = assign_names([big, stalest, newer, twin])
    assert names[1] == "lost"
    assert names[0] == "lost (big baskets)"
    assert names[2] == "lost (newer)"
    assert len(set(names)) == 4


# ---------- scale: sample fit, batched assignment


@pytest.mark.slow
def test_fit_on_a_sample_and_assign_in_batches(base_frame, base_run, tmp_path):
    small = fit_segments(base_frame, settings(fit_sample_size=300, silhouette_sample_size=200))
    assert small.fit.fit_rows == 300 and small.fit.customers == len(base_frame)
    one_batch = small.assign(base_frame, batch_size=10_000)
    pd.testing.assert_frame_equal(small.assign(base_frame, batch_size=7), one_batch)

    store = SegmentStore(tmp_path / "segments")
    out = run_segmentation(
        base_frame,
        None,
        {"batch_size": "13", "fit_sample_size": "300", "n_init": "2", "k_max": "5"},
        store,
    )
    assert len(out) == len(base_frame) and out["customer_id"].is_unique
    profiles = segment_profiles(out, store)
    assert profiles["customers"].sum() == len(base_frame)
    # Batched means equal plain means.
    merged = base_frame.merge(out, on="customer_id")
    expected = merged.groupby("segment_id")["orders_count"].mean()
    got = profiles.set_index("segment_id")["mean_orders_count"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)


# ---------- pipeline: persistence, reruns, the run record, logs


def test_run_segmentation_persists_a_complete_record_and_reruns_idempotently(
    base_frame, tmp_path, caplog
):
    store = SegmentStore(tmp_path / "segments")
    config = {"k_min": "3", "k_max": "6", "n_init": "3", "hierarchical_sample_size": "400"}
    with caplog.at_level(logging.INFO, logger="retention.segments"):
        first = run_segmentation(base_frame, None, config, store)
    run_id = first["segment_run_id"].iloc[0]
    assert list(first.columns[:5]) == [
        "customer_id",
        "as_of_date",
        "segment_id",
        "segment_name",
        "distance_to_centroid",
    ]
    record = json.loads((store.root / "runs" / run_id / "run.json").read_text())
    assert set(record["silhouettes"]) == {"3", "4", "5", "6"}
    assert record["k"] in (3, 4, 5, 6) and record["silhouette"] is not None
    assert record["hierarchical"]["method"] == "ward"
    assert -1 <= record["hierarchical"]["adjusted_rand_index"] <= 1
    assert record["matching"] == [] and record["previous_run_id"] is None
    centroids = pd.read_parquet(store.root / "runs" / run_id / "centroids.parquet")
    assert list(centroids["segment_id"]) == record["segment_ids"]
    messages = caplog.text
    for k in range(3, 7):
        assert f"k={k}: silhouette" in messages
    assert "chose k=" in messages and "customers (" in messages

    # A rerun on the same data is the same run, matched against the run before it (none).
    again = run_segmentation(base_frame, None, config, store)
    pd.testing.assert_frame_equal(again, first)
    assert store.load(run_id).lineage.previous_run_id is None

    # The next build (new data) builds on it; the profile table follows the assignments.
    later = perturb(base_frame, seed=4)
    third = run_segmentation(later, None, config, store)
    new_run = store.load(third["segment_run_id"].iloc[0])
    assert new_run.lineage.previous_run_id == run_id
    assert all(row["matched"] for row in new_run.lineage.matching)
    profiles = segment_profiles(third, store)
    assert list(profiles["segment_id"]) == new_run.segments.segment_ids
    assert profiles["is_matched_to_previous"].all()
    assert profiles["share_of_customers"].sum() == pytest.approx(1.0)


def test_backtest_assigns_the_latest_mature_cutoff_with_the_same_centroids(base_frame, tmp_path):
    as_of = base_frame.assign(is_latest_mature_cutoff=False, is_churned=pd.NA, cutoff_date=AS_OF)
    mature = perturb(base_frame, seed=8).assign(
        is_scoring_cutoff=False,
        is_latest_mature_cutoff=True,
        cutoff_date=AS_OF - pd.Timedelta(days=90),
        # Recent buyers stay, the stale ones churn.
        is_churned=lambda f: f["days_since_last_order"] > 100,
    )
    # An older mature cutoff (not flagged) must not be read.
    older = mature.assign(
        cutoff_date=AS_OF - pd.Timedelta(days=118), is_latest_mature_cutoff=False, is_churned=False
    )
    snapshots = pd.concat([as_of, mature, older], ignore_index=True)
    store = SegmentStore(tmp_path / "segments")
    out = run_segmentation(snapshots, None, {"n_init": "2", "k_max": "5"}, store)
    assert len(out) == len(base_frame)  # only the as-of rows are segmented
    profiles = segment_profiles(out, store).set_index("segment_name")
    assert (profiles["backtest_cutoff_date"] == (AS_OF - pd.Timedelta(days=90)).date()).all()
    assert profiles["backtest_labelled_customers"].sum() == len(base_frame)
    champions = [n for n in profiles.index if n.startswith("champions")]
    lost = [n for n in profiles.index if n.startswith(("lost", "hibernating"))]
    assert profiles.loc[champions, "backtest_churn_rate"].max() < 0.05
    assert profiles.loc[lost, "backtest_churn_rate"].min() > 0.95


# ---------- inputs


def test_copes_with_missing_optional_columns_and_rejects_missing_required(base_frame):
    minimal = base_frame[["customer_id", "days_since_last_order", "orders_count"]]
    run = fit_segments(minimal, settings(k_max=4))
    assert run.features == ["days_since_last_order", "orders_count"]
    assert len(run.assign(minimal)) == len(minimal)
    with pytest.raises(ValueError, match="days_since_last_order"):
        fit_segments(base_frame.drop(columns="days_since_last_order"), settings())


def test_constant_columns_are_dropped_and_missing_values_filled(base_frame):
    frame = base_frame.assign(discounted_order_rate=0.0, sessions_90d=np.nan)
    frame.loc[:9, "days_since_last_order"] = np.nan  # e.g. no order yet (activity churn)
    specs = [s.column for s in available_features(frame)]
    assert "discounted_order_rate" not in specs and "sessions_90d" not in specs
    transform = FeatureTransform.fit(frame, available_features(frame))
    raw = transform.raw(frame)
    assert not np.isnan(raw).any()
    assert raw[:10, 0].min() == frame["days_since_last_order"].max()  # "never" = the stalest
    z = transform.transform(frame)
    np.testing.assert_allclose(transform.to_original(z), raw, rtol=1e-9)


def test_settings_from_dbt_config_strings():
    parsed = SegmentSettings.from_config({"k_min": "2", "k_max": "9", "max_match_distance": "1.5"})
    assert (parsed.k_min, parsed.k_max, parsed.max_match_distance) == (2, 9, 1.5)
    with pytest.raises(ValueError, match="k_min"):
        SegmentSettings.from_config({"k_min": "5", "k_max": "4"})


def test_segmentation_rows_are_the_flagged_cutoffs_and_the_columns_read():
    """The model's read (relations, as dbt passes them): the as-of and latest mature
    cutoffs' rows, only the columns segmentation reads; what the whole-table read gave."""
    import duckdb

    from churn_fixtures import cutoff_spine
    from churn_fixtures import make_snapshots as make_spine_snapshots
    from retention.segments import segmentation_rows
    from retention.segments.pipeline import INPUT_COLUMNS

    snapshots = make_spine_snapshots(n_customers=300, n_mature=4, seed=3)
    cutoffs = cutoff_spine(n_mature=4).assign(is_latest_mature_cutoff=lambda f: f.index == 1)
    con = duckdb.connect()
    rows = segmentation_rows(con.from_df(snapshots), con.from_df(cutoffs))
    assert list(rows.columns) == [c for c in INPUT_COLUMNS if c in rows.columns]
    assert "is_latest_mature_cutoff" in rows.columns and len(rows.columns) < len(snapshots.columns)
    flagged = cutoffs.loc[cutoffs["is_scoring_cutoff"] | cutoffs["is_latest_mature_cutoff"]]
    whole = snapshots.merge(flagged[["cutoff_date", "is_latest_mature_cutoff"]], on="cutoff_date")
    key = ["cutoff_date", "customer_id"]
    pd.testing.assert_frame_equal(
        rows.sort_values(key).reset_index(drop=True),
        whole[rows.columns].sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    assert rows["cutoff_date"].nunique() == 2 and len(rows) < len(snapshots)
