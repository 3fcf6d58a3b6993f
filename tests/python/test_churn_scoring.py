"""Scoring, reasons and risk tiers (retention.churn.scoring), and the on-disk registry
with the dbt entry points (retention.churn.registry, retention.churn.pipeline)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_fixtures import AS_OF, FAST_CANDIDATES, make_snapshots
from retention.churn import reads
from retention.churn.frames import in_cutoff_customer_order, prepare_snapshots
from retention.churn.pipeline import (
    evaluation_history,
    run_scoring,
    run_training,
    scoring_workers,
    training_config,
)
from retention.churn.registry import Registry, _atomic_write
from retention.churn.scoring import (
    contributions,
    feature_family,
    reason_text,
    retained_reference,
    risk_tier,
    score_customers,
)
from retention.churn.training import TrainingConfig, train_churn_model

REASONS = 3
# The fast recipe, as dbt passes it: config values arrive as strings.
SETTINGS = {"candidates": "['logistic_regression']", "use_btyd": "false"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=1200, n_mature=8, seed=4)


@pytest.fixture(scope="module")
def trained(snapshots):
    return train_churn_model(snapshots, TrainingConfig(candidates=FAST_CANDIDATES, use_btyd=False))


@pytest.fixture(scope="module")
def reference(trained, snapshots) -> pd.Series:
    frame = prepare_snapshots(snapshots)
    return retained_reference(trained.challenger, frame[frame["is_label_mature"]])


@pytest.fixture(scope="module")
def scoring_rows(snapshots) -> pd.DataFrame:
    rows = prepare_snapshots(snapshots)
    return rows[rows["is_scoring_cutoff"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def scores(trained, reference, snapshots) -> pd.DataFrame:
    return score_customers(snapshots, trained.challenger, trained.model_version, reference)


# ---------------------------------------------------------------- scores and tiers


def test_one_row_per_scoring_customer(scores, scoring_rows, trained):
    assert len(scores) == len(scoring_rows) == 1200
    assert scores["customer_id"].is_unique
    assert scores["customer_id"].tolist() == scoring_rows["customer_id"].astype(str).tolist()
    assert (scores["as_of_date"] == AS_OF.date()).all()
    assert (scores["model_version"] == trained.model_version).all()
    assert (scores["model_name"] == trained.challenger.name).all()


def test_probabilities_are_the_models(scores, scoring_rows, trained):
    p = scores["churn_probability"].to_numpy()
    assert ((p > 0) & (p < 1)).all()
    np.testing.assert_array_equal(p, trained.challenger.predict(scoring_rows))
    assert p.std() > 0.1  # real signal: the scores spread out


def test_risk_tier_boundaries_go_to_the_riskier_tier():
    probability = np.array([0.95, 0.8, 0.7999, 0.3, 0.2999, 0.0])
    tiers = ["high", "high", "medium", "medium", "low", "low"]
    assert list(risk_tier(probability, high=0.8, medium=0.3)) == tiers


def test_scoring_uses_the_thresholds_it_is_given(trained, reference, snapshots, scores):
    """Each tier holds the probabilities of its band, and other thresholds move customers."""

    def bands(frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
        grouped = frame.groupby("risk_tier")["churn_probability"]
        return {tier: (low, high) for tier, (low, high) in grouped.agg(["min", "max"]).iterrows()}

    default = bands(scores)  # high_risk 0.7, medium_risk 0.4
    assert set(default) == {"high", "medium", "low"}
    assert default["high"][0] >= 0.7 and default["low"][1] < 0.4
    assert default["medium"][0] >= 0.4 and default["medium"][1] < 0.7
    tiered = score_customers(
        snapshots, trained.challenger, "v", reference, high_risk=0.8, medium_risk=0.3
    )
    moved = bands(tiered)
    assert set(moved) == {"high", "medium", "low"}
    assert moved["high"][0] >= 0.8 and moved["low"][1] < 0.3
    assert moved["medium"][0] >= 0.3 and moved["medium"][1] < 0.8
    assert (tiered["risk_tier"] != scores["risk_tier"]).any()


# ---------------------------------------------------------------- reasons


def test_reasons_come_from_the_models_feature_families(scores, scoring_rows, trained):
    allowed = {feature_family(f) for f in trained.challenger.features}
    assert {"recency", "purchase_frequency", "spend", "tenure", "profile"} <= allowed
    used = set()
    for i, score in scores.iterrows():
        families = [score[f"reason_{k}_family"] for k in range(1, REASONS + 1)]
        texts = [score[f"reason_{k}"] for k in range(1, REASONS + 1)]
        present = [f for f in families if f is not None and not pd.isna(f)]
        # Reasons fill from the first slot, never repeat, and come with their text.
        assert families[: len(present)] == present
        assert len(set(present)) == len(present)
        assert set(present) <= allowed
        for family, text in zip(present, texts, strict=False):
            assert text == reason_text(family, scoring_rows.iloc[i])
        assert all(pd.isna(t) for t in texts[len(present) :])
        used.update(present)
    assert len(used) >= 3
    # Customers at high risk are told why.
    assert scores.loc[scores["risk_tier"] == "high", "reason_1"].notna().all()


def test_reasons_are_ranked_by_contribution(scores, scoring_rows, trained, reference):
    contrib = contributions(trained.challenger, scoring_rows, reference)
    first = contrib.idxmax(axis=1)
    has_reason = contrib.max(axis=1) > 0.005
    assert (scores.loc[has_reason, "reason_1_family"] == first[has_reason]).all()
    assert scores.loc[~has_reason, "reason_1"].isna().all()


def test_long_gap_gets_a_no_order_reason_with_the_right_days(scores, scoring_rows):
    joined = scores.assign(
        days=scoring_rows["days_since_last_order"].to_numpy(),
        gap=scoring_rows["order_gap_mean_days"].to_numpy(),
    )
    longest = joined.nlargest(20, "days")
    assert (longest["days"] > 365).all()
    assert (longest["reason_1_family"] == "recency").all()
    for _, customer in longest.iterrows():
        match = re.match(
            r"no order for (\d+) days(; usually orders every (\d+))?$", customer["reason_1"]
        )
        assert match, customer["reason_1"]
        assert int(match.group(1)) == round(customer["days"])
        if pd.notna(customer["gap"]) and customer["gap"] > 0:
            assert int(match.group(3)) == round(customer["gap"])
        else:
            assert match.group(2) is None
    # Every recency reason, not only the extremes, quotes the customer's own gap.
    for slot in range(1, REASONS + 1):
        recency = joined[joined[f"reason_{slot}_family"] == "recency"]
        quoted = recency[f"reason_{slot}"].str.extract(r"no order for (\d+) days")[0].astype(int)
        assert (quoted == recency["days"].round().astype(int)).all()


def test_reason_text_examples():
    row = pd.Series(
        {
            "days_since_last_order": 123.4,
            "order_gap_mean_days": 30.2,
            "orders_count": 1.0,
            "orders_90d": 1.0,
            "orders_prev_90d": 4.0,
            "days_since_first_order": 400.0,
            "acquisition_channel": "social",
        }
    )
    assert reason_text("recency", row) == "no order for 123 days; usually orders every 30"
    assert reason_text("recency", row.drop("order_gap_mean_days")) == "no order for 123 days"
    assert (
        reason_text("purchase_frequency", row)
        == "1 orders in the last 90 days, down from 4 the 90 days before"
    )
    assert reason_text("purchase_frequency", row.drop("orders_prev_90d")) == "only 1 order so far"
    assert reason_text("tenure", row) == "customer for 400 days"
    assert reason_text("profile", row) == "acquired via social"
    assert feature_family("days_since_last_order") == "recency"
    assert feature_family("orders_trend_90d") == "purchase_frequency"
    assert feature_family("revenue_90d") == "spend"
    assert feature_family("country_code") == "profile"
    assert feature_family("something_new") == "other"


def test_scores_are_deterministic(scores, trained, reference, snapshots):
    again = score_customers(snapshots, trained.challenger, trained.model_version, reference)
    pd.testing.assert_frame_equal(again, scores)
    reordered = snapshots.sample(frac=1.0, random_state=2)
    shuffled = score_customers(reordered, trained.challenger, trained.model_version, reference)
    pd.testing.assert_frame_equal(shuffled, scores)


def test_no_scoring_rows_is_an_error(trained, reference, snapshots):
    with pytest.raises(ValueError, match="no scoring rows"):
        score_customers(
            snapshots[~snapshots["is_scoring_cutoff"]], trained.challenger, "v", reference
        )


# ---------------------------------------------------------------- registry and pipeline


@pytest.fixture(scope="module")
def small_snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=600, n_mature=6, seed=5)


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "artifacts"
    monkeypatch.setenv("RETENTION_ARTIFACTS", str(root))
    return root


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name]


def test_training_config_from_dbt_strings():
    config = training_config(
        {
            "candidates": "['logistic_regression', 'keras_mlp']",
            "use_btyd": "False",
            "min_labelled_rows": "50",
            "calibration": "isotonic",
            "horizon_days": None,
        }
    )
    assert config.candidates == ("logistic_regression", "keras_mlp")
    assert config.use_btyd is False
    assert config.min_labelled_rows == 50
    assert config.calibration == "isotonic"
    assert config.horizon_days is None  # no default: read from the snapshots' label windows
    assert training_config({"horizon_days": "30"}).horizon_days == 30
    assert training_config({"use_btyd": "true"}).use_btyd is True


def test_run_training_twice_is_idempotent(small_snapshots, artifacts):
    first = run_training(small_snapshots, SETTINGS)
    registry = Registry()
    assert registry.root == artifacts
    version = registry.champion_version()
    assert len(first) == 1 and first["model_version"].iloc[0] == version
    assert first["promoted"].iloc[0] and first["is_champion"].iloc[0]
    champion_pointer = (artifacts / "champion.json").read_text()

    # A rebuild of the warehouse: the same rows, in another order.
    reordered = small_snapshots.sample(frac=1.0, random_state=1)
    second = run_training(reordered, SETTINGS)
    assert len(second) == 1
    assert second["model_version"].iloc[0] == version
    assert bool(second["is_champion"].iloc[0]) and bool(second["promoted"].iloc[0])
    # the record is the first run's: when it was trained and why it was promoted
    pd.testing.assert_frame_equal(second, first)
    assert registry.champion_version() == version
    assert (artifacts / "champion.json").read_text() == champion_pointer
    assert [p.name for p in (artifacts / "models").iterdir()] == [version]
    assert evaluation_history()["model_version"].unique().tolist() == [version]
    run = json.loads((artifacts / "models" / version / "run.json").read_text())
    assert run["chosen_model"].split("/")[0] in ("logistic_regression", "constant_rate")
    assert temp_files(artifacts) == []


def test_run_scoring_keeps_one_partition_per_as_of_date(small_snapshots, artifacts):
    with pytest.raises(RuntimeError, match="No champion"):
        run_scoring(small_snapshots, {})
    run_training(small_snapshots, SETTINGS)
    n_first = int(small_snapshots["is_scoring_cutoff"].sum())

    history = run_scoring(small_snapshots, {})
    again = run_scoring(small_snapshots, {"high_risk_threshold": "0.7"})
    assert len(history) == len(again) == n_first
    pd.testing.assert_frame_equal(again, history)
    partitions = sorted(p.name for p in (artifacts / "scores").iterdir())
    assert partitions == [f"as_of_date={AS_OF.date()}.parquet"]

    week_later = AS_OF + pd.Timedelta(days=7)
    later = make_snapshots(n_customers=600, n_mature=6, seed=5, as_of=week_later)
    n_later = int(later["is_scoring_cutoff"].sum())
    history = run_scoring(later, {})
    assert len(history) == n_first + n_later
    assert history.groupby("as_of_date").size().to_dict() == {
        AS_OF.date(): n_first,
        week_later.date(): n_later,
    }
    assert len(list((artifacts / "scores").iterdir())) == 2
    assert history["model_version"].nunique() == 1
    # Rescoring the first date replaces its partition; the other one stays.
    assert len(run_scoring(small_snapshots, {})) == n_first + n_later
    assert temp_files(artifacts) == []


def test_atomic_write_keeps_the_old_file_and_no_temp_file_on_failure(tmp_path):
    registry = Registry(tmp_path)
    registry.set_champion("churn-aaa")

    def crash_halfway(path: Path) -> None:
        path.write_text('{"model_version": "churn-b')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _atomic_write(tmp_path / "champion.json", crash_halfway)
    assert json.loads((tmp_path / "champion.json").read_text()) == {"model_version": "churn-aaa"}
    assert temp_files(tmp_path) == []
    # The pointer only counts when the model it names exists.
    assert registry.champion_version() is None


# ---------------------------------------------------------------- narrow reads, batches


@pytest.mark.parametrize("workers", [1, 2])
def test_scores_in_batches_equal_one_frame_of_everything(
    small_snapshots, artifacts, monkeypatch, workers
):
    """run_scoring reads only the as-of rows and the columns it needs, in batches (here 7
    customers, so batches end mid-way and the last is short), one or two at a time in
    threads; the scores are those of score_customers over the whole table in one frame."""
    monkeypatch.setenv("RETENTION_ML_FIT_WORKERS", str(workers))
    run_training(small_snapshots, SETTINGS)
    registry = Registry()
    version = registry.champion_version()
    model = registry.load_model(version)
    assert scoring_workers(model) == workers  # a scikit-learn champion
    frame = prepare_snapshots(small_snapshots)
    whole = score_customers(
        small_snapshots,
        model,
        version,
        retained_reference(model, frame[frame["is_label_mature"].astype(bool)]),
    )
    batched = run_scoring(small_snapshots, {}, batch_rows=7)
    pd.testing.assert_frame_equal(batched, whole)
    assert whole["reason_3"].isna().any() and whole["reason_1"].notna().any()


def test_reference_read_a_column_at_a_time_is_the_frames(trained, snapshots):
    model = trained.challenger
    frame = prepare_snapshots(snapshots)
    expected = retained_reference(model, frame[frame["is_label_mature"]])
    relation = reads.as_relation(snapshots)
    for max_values in (1, 10**9):  # one column per read; every column in one read
        got = reads.retained_reference(relation, model, max_values=max_values)
        pd.testing.assert_series_equal(got, expected)
    assert len(model.categorical) and len(model.numeric) > 5


def test_scoring_reads_the_champions_columns_and_what_the_reasons_say(trained, snapshots):
    model = trained.challenger
    relation = reads.as_relation(snapshots.assign(cart_abandonment_rate_30d=0.5, unused=1.0))
    columns = reads.scoring_columns(relation, model)
    assert set(model.features) <= set(columns)
    assert "cart_abandonment_rate_30d" in columns and "unused" not in columns
    rows = pd.concat(reads.scoring_batches(relation, model, 500), ignore_index=True)
    assert len(rows) == int(snapshots["is_scoring_cutoff"].sum())
    assert rows["customer_id"].is_monotonic_increasing
    with pytest.raises(ValueError, match="lacks the champion's features"):
        reads.scoring_columns(reads.as_relation(snapshots.drop(columns=model.numeric[0])), model)


def test_customer_value_reads_the_buyers_as_of_rows(snapshots):
    snapshots = snapshots.copy()
    snapshots.loc[snapshots.index % 5 == 0, "order_days_count"] = 0  # not buyers (yet)
    buyers = reads.buyers_at_as_of(reads.as_relation(snapshots))
    frame = prepare_snapshots(snapshots)
    expected = frame[frame["is_scoring_cutoff"] & (frame["order_days_count"] >= 1)]
    got = prepare_snapshots(buyers)
    assert 0 < len(got) == len(expected) < int(snapshots["is_scoring_cutoff"].sum())
    pd.testing.assert_frame_equal(got, expected[got.columns].reset_index(drop=True))


def test_training_reads_every_row_up_to_the_customer_cap(snapshots):
    customers = snapshots["customer_id"].nunique()
    rows, read_customers, total = reads.training_rows(snapshots, max_customers=customers)
    assert (read_customers, total) == (customers, customers)
    assert len(rows) == len(snapshots)


def test_training_reads_whole_customers_above_the_cap(snapshots):
    customers = snapshots["customer_id"].nunique()
    cap = customers // 4
    rows, read_customers, total = reads.training_rows(snapshots, max_customers=cap)
    assert total == customers
    assert read_customers == rows["customer_id"].nunique()
    assert 0.5 * cap <= read_customers <= 1.5 * cap  # hash buckets: about the cap
    # every cutoff of a sampled customer, and nothing of the others
    expected = snapshots[snapshots["customer_id"].isin(rows["customer_id"])]
    assert len(rows) == len(expected)
    # the same customers whatever the row order
    shuffled = snapshots.sample(frac=1.0, random_state=1)
    again, _, _ = reads.training_rows(shuffled, max_customers=cap)
    assert set(again["customer_id"]) == set(rows["customer_id"])


def test_training_reads_a_relation_in_the_order_prepare_snapshots_sorts(snapshots):
    shuffled = snapshots.sample(frac=1.0, random_state=2).reset_index(drop=True)
    customers = snapshots["customer_id"].nunique()
    read_rows, _, _ = reads.training_rows(reads.as_relation(shuffled), max_customers=customers)
    expected = prepare_snapshots(shuffled)  # sorts: the shuffled rows are out of order
    assert not in_cutoff_customer_order(shuffled.assign(
        cutoff_date=pd.to_datetime(shuffled["cutoff_date"])))  # fmt: skip
    assert in_cutoff_customer_order(read_rows)
    pd.testing.assert_frame_equal(prepare_snapshots(read_rows), expected[read_rows.columns])


@pytest.mark.parametrize("ids", ["strings", "integers"])
def test_prepare_snapshots_orders_rows_the_same_from_any_order(snapshots, ids):
    frame = snapshots.copy()
    if ids == "integers":  # 10 before 9 as text, after it as numbers
        frame["customer_id"] = frame["customer_id"].factorize()[0] + 5
    before = frame.copy()
    shuffled = frame.sample(frac=1.0, random_state=4)
    once = prepare_snapshots(shuffled)
    pd.testing.assert_frame_equal(prepare_snapshots(once), once)  # sorted input: unchanged
    reference = shuffled.assign(**{c: pd.to_datetime(shuffled[c]) for c in (
        "cutoff_date", "label_window_end_date", "as_of_date")})  # fmt: skip
    reference = reference.sort_values(["cutoff_date", "customer_id"], kind="stable")
    assert once["customer_id"].tolist() == reference["customer_id"].tolist()
    assert once["cutoff_date"].tolist() == reference["cutoff_date"].tolist()
    # rows in text order: for integer ids that is not their order, and they are sorted again
    as_text = shuffled.assign(text=shuffled["customer_id"].astype(str))
    as_text = as_text.sort_values(["cutoff_date", "text"]).drop(columns="text")
    assert prepare_snapshots(as_text)["customer_id"].tolist() == once["customer_id"].tolist()
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left as it was


def test_keras_and_btyd_models_score_one_batch_at_a_time(monkeypatch):
    """TensorFlow and PyTensor predict through shared state: one batch at a time."""
    from types import SimpleNamespace

    monkeypatch.setenv("RETENTION_ML_FIT_WORKERS", "2")
    assert scoring_workers(SimpleNamespace(learner="hist_gradient_boosting", blend_btyd=None)) == 2
    for learner in ("keras_mlp", "ensemble_mean", "bg_nbd", "pareto_nbd"):
        assert scoring_workers(SimpleNamespace(learner=learner, blend_btyd=None)) == 1
    blended = SimpleNamespace(learner="logistic_regression", blend_btyd=object())
    assert scoring_workers(blended) == 1
