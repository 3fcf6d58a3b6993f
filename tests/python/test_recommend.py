"""The recommendation package (retention.recommend): metrics on hand-computed cases, the
time rule, the chooser, the ownership rule, the blend and the pipeline the dbt models call."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from retention.recommend import candidates as candidates_module
from retention.recommend.blend import Mix, blend, fill, learn_mix
from retention.recommend.candidates import (
    KINDS,
    Als,
    BuyAgain,
    CoOccurrence,
    Lists,
    PopularityGlobal,
)
from retention.recommend.data import PurchaseLog, day_number
from retention.recommend.metrics import paired_bootstrap, summarise, user_outcomes
from retention.recommend.pipeline import (
    EVALUATION_COLUMNS,
    RECOMMENDATION_COLUMNS,
    recommend_config,
    run_evaluation,
    run_recommendations,
)
from retention.recommend.protocol import (
    ListMaker,
    PlannedCutoff,
    RecommendConfig,
    candidates,
    evaluate,
    plan_cutoffs,
)
from retention.recommend.registry import RecommendationRegistry

D0 = dt.date(2024, 1, 1)


def log_from(rows: list[tuple], products: list[tuple] | None = None, **kwargs) -> PurchaseLog:
    """rows: (customer, product, day offset from D0[, completed])."""
    frame = pd.DataFrame(
        [
            {
                "customer_id": r[0],
                "product_id": r[1],
                "purchased_date": D0 + dt.timedelta(days=r[2]),
                "completed_orders": int(r[3]) if len(r) > 3 else 1,
                "returned_orders": 0 if (len(r) <= 3 or r[3]) else 1,
            }
            for r in rows
        ]
    )
    if products is None:
        products = sorted({(r[1], "cat") for r in rows})
    catalogue = pd.DataFrame(products, columns=["product_id", "category"])
    return PurchaseLog.from_frames(frame, catalogue, **kwargs)


def day(offset: int) -> int:
    return day_number(D0 + dt.timedelta(days=offset))


def codes(log: PurchaseLog, lists: Lists, row: int) -> list[str]:
    return [log.product_ids[i] for i in lists.items[row] if i >= 0]


# ---------------------------------------------------------------------------- metrics
def test_metrics_on_a_hand_computed_case() -> None:
    # 3 customers bought in the window: u0 {1, 2}, u1 {3}, u2 nothing; 4 are evaluated.
    window = sp.csr_matrix(([1, 1, 1], ([0, 0, 1], [1, 2, 3])), shape=(3, 6), dtype=np.float32)
    users = np.array([0, 1, 2])
    items = np.array([[2, 5, 1], [0, 4, 5], [1, 2, 3]])  # u0 hits at ranks 1 and 3, u1 none
    out = user_outcomes(items, window, users)
    assert out.hits.tolist() == [2, 0, 0]
    assert out.bought.tolist() == [2, 1, 0]
    metrics = summarise(out, n=3, evaluated=4, listed_items=items, catalogue_size=10)
    assert metrics["hit_rate"] == pytest.approx(1 / 4)
    assert metrics["precision_at_n"] == pytest.approx(2 / (3 * 4))
    assert metrics["recall_at_n"] == pytest.approx((2 / 2 + 0 / 1) / 2)  # over customers who bought
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3)
    assert metrics["ndcg_at_n"] == pytest.approx((dcg / idcg + 0) / 2)
    assert metrics["catalogue_coverage"] == pytest.approx(6 / 10)  # products 0..5 listed
    assert metrics["active_customers"] == 2 and metrics["hit_customers"] == 1


def test_empty_slots_are_misses_and_recall_counts_every_bought_product() -> None:
    window = sp.csr_matrix(([1, 1, 1], ([0, 0, 0], [1, 2, 3])), shape=(1, 5), dtype=np.float32)
    out = user_outcomes(np.array([[3, -1, -1]]), window, np.array([0]))
    metrics = summarise(out, n=3, evaluated=1)
    assert metrics["hit_rate"] == 1 and metrics["precision_at_n"] == pytest.approx(1 / 3)
    assert metrics["recall_at_n"] == pytest.approx(1 / 3)
    assert metrics["ndcg_at_n"] == pytest.approx(1 / (1 + 1 / np.log2(3) + 1 / np.log2(4)))


def test_paired_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(400) < 0.30
    b = a & (rng.random(400) < 0.5)  # b hits a subset of a's hits: a is better
    point, low, high = paired_bootstrap(a, b, evaluated=1000, samples=2000, seed=1)
    assert point == pytest.approx((a.sum() - b.sum()) / 1000)
    assert 0 < low < point < high
    # same lists: no difference, an interval of zero width
    assert paired_bootstrap(a, a, 1000) == (0.0, 0.0, 0.0)
    # a small difference on few customers: the interval covers 0
    c = a.copy()
    c[np.flatnonzero(a)[:1]] = False
    _, low, high = paired_bootstrap(a, c, evaluated=1000, samples=2000, seed=1)
    assert low <= 0 <= high


def test_bootstrap_matches_resampling_every_customer() -> None:
    """The multinomial shortcut has the same spread as resampling all customers."""
    rng = np.random.default_rng(3)
    a = rng.random(300) < 0.4
    b = rng.random(300) < 0.3
    evaluated = 600  # 300 more customers who bought nothing: difference 0
    _, low, high = paired_bootstrap(a, b, evaluated, samples=4000, seed=2)
    diff = np.concatenate([a.astype(int) - b.astype(int), np.zeros(evaluated - 300, int)])
    naive = [diff[rng.integers(0, evaluated, evaluated)].mean() for _ in range(4000)]
    naive_low, naive_high = np.quantile(naive, [0.025, 0.975])
    assert low == pytest.approx(naive_low, abs=0.01)
    assert high == pytest.approx(naive_high, abs=0.01)


# ---------------------------------------------------------------------------- time rule
def shop_log(extra: list[tuple] = ()) -> PurchaseLog:
    """A small shop: staples bought again, a complement pair, a best seller."""
    rows = []
    for u in range(40):
        rows.append((f"c{u:02d}", "p_best", u % 30))
        if u % 2 == 0:  # half the customers buy a staple every 20 days
            rows += [(f"c{u:02d}", "p_staple", d) for d in range(u % 7, 120, 20)]
        if u % 3 == 0:
            rows += [(f"c{u:02d}", "p_a", 40 + u % 5), (f"c{u:02d}", "p_b", 60 + u % 5)]
        rows.append((f"c{u:02d}", f"p_x{u % 6}", 10 + u))
    products = [(p, "grocery") for p in ["p_best", "p_staple", "p_a", "p_b"]]
    products += [(f"p_x{i}", "books") for i in range(6)]
    return log_from(rows + list(extra), products)


ALL_SPECS = candidates(RecommendConfig())


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[c.name for c in ALL_SPECS])
def test_purchases_on_or_after_the_cutoff_never_change_the_lists(spec) -> None:
    cutoff = 90
    future = [("c00", "p_x5", cutoff), ("c01", "p_a", cutoff + 1), ("c02", "p_new", cutoff + 3),
              ("c03", "p_staple", cutoff), ("c99", "p_best", cutoff + 10)]  # fmt: skip
    before = shop_log()
    after = shop_log(future)
    config = RecommendConfig(per_customer=3)
    users = [f"c{u:02d}" for u in range(40)]
    lists = []
    for purchases in (before, after):
        codes_ = pd.Index(purchases.customer_ids).get_indexer(users)
        made = ListMaker(purchases.history(day(cutoff)), config, codes_).lists(spec, 3)
        lists.append([codes(purchases, made, i) for i in range(len(users))])
    assert lists[0] == lists[1]


def test_the_window_starts_at_the_cutoff_and_ends_before_the_horizon() -> None:
    purchases = log_from(
        [("a", "p1", 9), ("a", "p2", 10), ("a", "p3", 37), ("a", "p4", 38), ("a", "p5", 20, False)]
    )
    window = purchases.window(day(10), 28)
    bought = {purchases.product_ids[i] for i in window[0].indices}
    assert bought == {"p2", "p3"}  # not the day before, not day 10 + 28, not a returned order
    history = purchases.history(day(10))
    assert {purchases.product_ids[i] for i in history.owned[0].indices} == {"p1"}


def test_cutoff_plan_holds_out_the_latest_and_purges_validation() -> None:
    config = RecommendConfig(horizon_days=28, validation_cutoffs=2)
    as_of = 1000
    spine = [as_of, as_of - 90, as_of - 118, as_of - 146, as_of - 174]
    plan = plan_cutoffs(spine, as_of, config)
    assert plan == [
        PlannedCutoff(as_of - 146, "validation"),
        PlannedCutoff(as_of - 118, "validation"),
        PlannedCutoff(as_of - 90, "holdout"),
    ]
    # a 30-day horizon: the cutoff 28 days before the holdout would see past it, so skip it
    plan = plan_cutoffs(spine, as_of, RecommendConfig(horizon_days=30, validation_cutoffs=2))
    assert [p.day for p in plan if p.role == "validation"] == [as_of - 174, as_of - 146]
    # the scoring cutoff and cutoffs whose window is still open are never used
    assert plan_cutoffs([as_of, as_of - 7], as_of, config) == []
    assert plan_cutoffs([as_of - 40], as_of, config) == [PlannedCutoff(as_of - 40, "validation")]


# ---------------------------------------------------------------------------- candidates
def test_buy_again_prefers_a_due_repeat_product_over_an_overdue_or_one_off() -> None:
    rows = [("a", "due", d) for d in (0, 20, 40, 60, 80)]  # every 20 days, last 10 days ago
    rows += [("a", "lapsed", d) for d in (0, 5, 10)]  # every 5 days, stopped 80 days ago
    rows += [("a", "once", 85)]
    rows += [("b", "once", 10), ("c", "once", 12)]  # nobody buys "once" twice
    purchases = log_from(rows)
    model = BuyAgain(horizon_days=28).fit(purchases.history(day(90)))
    lists = model.recommend(np.array([0]), 3)
    assert codes(purchases, lists, 0)[0] == "due"
    scores = dict(zip(codes(purchases, lists, 0), lists.scores[0], strict=False))
    assert scores["due"] > 0.5 > scores["lapsed"]
    assert scores["once"] < scores["due"]
    details = model.details(np.array([0]), lists.items[:, :1])
    assert details["rhythm_days"].iloc[0] == pytest.approx((4 * 20 + 20) / 5)  # shrunk to 20
    assert details["since_days"].iloc[0] == 10


def test_co_occurrence_shrinks_rare_pairs_and_names_the_link() -> None:
    rows = []
    for u in range(12):  # a and b go together for 12 customers
        rows += [(f"u{u}", "a", 1), (f"u{u}", "b", 5)]
    rows += [("v0", "a", 1), ("v0", "c", 2), ("v1", "c", 2)]  # a and c: one common buyer
    rows += [("w", "a", 3)]
    purchases = log_from(rows)
    model = CoOccurrence(min_pair_customers=1, shrinkage=3.0).fit(purchases.history(day(10)))
    w = purchases.customer_ids.tolist().index("w")
    lists = model.recommend(np.array([w]), 2)
    assert codes(purchases, lists, 0) == ["b", "c"]  # b: 12 common buyers beat c's one
    link = model.strongest_link(np.array([w]), lists.items)
    assert purchases.product_ids[link[0, 0]] == "a"
    # with the default minimum of 2 common buyers, the a-c pair is dropped
    strict = CoOccurrence(min_pair_customers=2).fit(purchases.history(day(10)))
    assert codes(purchases, strict.recommend(np.array([w]), 2), 0) == ["b"]


def test_popularity_counts_distinct_buyers_in_its_window() -> None:
    rows = [("a", "old", 0), ("b", "old", 1), ("c", "old", 2)]  # before the 90-day window
    rows += [("a", "hit", 95), ("a", "hit", 96), ("b", "hit", 97)]  # 2 buyers
    rows += [("c", "mid", 99)]
    purchases = log_from(rows)
    model = PopularityGlobal(days=90, includes_owned=True).fit(purchases.history(day(100)))
    assert codes(purchases, model.recommend(np.array([0]), 5), 0) == ["hit", "mid"]


def test_non_catalogue_products_are_never_recommended() -> None:
    rows = [(f"u{i}", "ghost", 1) for i in range(5)] + [("u0", "real", 2), ("z", "other", 3)]
    purchases = log_from(rows, products=[("real", "x"), ("other", "x")])
    model = PopularityGlobal(includes_owned=True).fit(purchases.history(day(10)))
    lists = model.recommend(np.arange(purchases.n_customers), 3)
    assert "ghost" not in {purchases.product_ids[i] for i in lists.items.ravel() if i >= 0}


# ---------------------------------------------------------------------------- ownership rule
@pytest.mark.parametrize("rule", ["learned", "always", "never"])
def test_the_owned_products_rule(rule) -> None:
    purchases = shop_log()
    config = RecommendConfig(per_customer=4, owned_products=rule)
    history = purchases.history(day(90))
    users = np.arange(purchases.n_customers)
    maker = ListMaker(history, config, users)
    owned_any = {}
    for spec in candidates(config):
        lists = maker.lists(spec, 4)
        owned = np.asarray(history.owned[users[:, None], np.maximum(lists.items, 0)].todense())
        owned = (owned > 0) & (lists.items >= 0)
        owned_any[spec.name] = bool(owned.any())
        if spec.name == "buy_again":  # its own entries are owned; the top-up is new to you
            ba = lists.kinds == KINDS.index("buy_again")
            assert owned[ba].all() and not owned[~ba].any()
        elif not spec.includes_owned:
            assert not owned.any(), spec.name
    names = {c.name for c in candidates(config)}
    if rule == "never":
        assert "buy_again" not in names and not any(owned_any.values())
    if rule == "learned":
        assert {"buy_again", "popularity_global_incl_owned"} <= names
        assert not owned_any["popularity_global"] and owned_any["popularity_global_incl_owned"]
    if rule == "always":
        assert owned_any["popularity_global"] and "popularity_global_incl_owned" not in names


def test_als_lists_are_the_same_with_the_fast_owned_filter(monkeypatch) -> None:
    """implicit's topk reads the owned filter one row at a time; RowIndices hands it the
    same indices as the scipy matrix, so every list (items, scores, order) is identical."""
    purchases = repeat_shop(seed=5, repeat=True)
    history = purchases.history(day(300))
    users = np.arange(purchases.n_customers)
    fast = Als(seed=3).fit(history).recommend(users, 6)
    monkeypatch.setattr(candidates_module, "RowIndices", lambda matrix: matrix)
    plain = Als(seed=3).fit(history).recommend(users, 6)
    assert (fast.items >= 0).sum() > users.size  # real lists, not empty ones
    np.testing.assert_array_equal(fast.items, plain.items)
    np.testing.assert_array_equal(fast.scores, plain.scores)
    np.testing.assert_array_equal(fast.kinds, plain.kinds)
    owned = np.asarray(history.owned[users[:, None], np.maximum(fast.items, 0)].todense())
    assert not ((owned > 0) & (fast.items >= 0)).any()


# ---------------------------------------------------------------------------- blend
def lists_of(items: list[list[int]], scores: list[list[float]], kind: str) -> Lists:
    return Lists(
        np.array(items, dtype=np.int32),
        np.array(scores, dtype=float),
        np.where(np.array(items) >= 0, KINDS.index(kind), -1).astype(np.int8),
    )


def test_blend_takes_likely_buy_again_products_first_then_new_ones() -> None:
    ba = lists_of([[7, 8, 9], [6, -1, -1]], [[0.6, 0.3, 0.01], [0.05, np.nan, np.nan]], "buy_again")
    new = lists_of([[1, 2, 3, 4], [1, 2, 3, 4]], [[9, 8, 7, 6], [9, 8, 7, 6]], "co_occurrence")
    mixed = blend(ba, new, 4, Mix(slots=2, threshold=0.1))
    assert mixed.items.tolist() == [[7, 8, 1, 2], [1, 2, 3, 4]]  # 0.05 < 0.1: none for row 2
    assert mixed.kinds[0].tolist() == [KINDS.index(k) for k in
                                       ("buy_again", "buy_again", "co_occurrence", "co_occurrence")]  # fmt: skip
    assert blend(ba, new, 4, Mix(0, 1.0)).items.tolist() == new.items.tolist()
    # duplicates are listed once; a short list is topped up from the fallback
    dup = lists_of([[2, 5, -1]], [[3, 2, np.nan]], "co_occurrence")
    top_up = lists_of([[5, 1, 2, 3]], [[4, 3, 2, 1]], "popularity_global")
    assert fill(dup, top_up, 4).items.tolist() == [[2, 5, 1, 3]]


def test_learn_mix_finds_the_best_mix_on_validation() -> None:
    # customers 0-3 re-buy their buy-again product 7; customers 4-5 buy new product 1
    n_users, width = 6, 10
    window = sp.lil_matrix((n_users, width), dtype=np.float32)
    for u in range(4):
        window[u, 7] = 1
    for u in (4, 5):
        window[u, 1] = 1
    ba = lists_of([[7, 8]] * 4 + [[8, 9]] * 2, [[0.5, 0.2]] * 4 + [[0.04, 0.03]] * 2, "buy_again")
    new = lists_of([[1, 2]] * n_users, [[2, 1]] * n_users, "co_occurrence")
    part = (ba, new, window.tocsr(), np.arange(n_users), n_users)
    best, rates = learn_mix([part], n=2)
    assert rates[best] == 1.0  # product 7 first for the re-buyers, product 1 for the others
    assert best.slots >= 1 and best.threshold > 0.04
    assert rates[Mix(0, 1.0)] == pytest.approx(2 / 6)


# ---------------------------------------------------------------------------- the chooser
def repeat_shop(seed: int, repeat: bool) -> PurchaseLog:
    """300 customers over 400 days. repeat=True: each has a personal product bought every
    ~25 days (buy-again wins); False: everyone buys the same few best sellers once."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(300):
        if repeat:
            personal = f"p{u % 150:03d}"
            rows += [(f"c{u:03d}", personal, d) for d in range(int(rng.integers(0, 25)), 400, 25)]
            rows += [(f"c{u:03d}", f"p{int(rng.integers(0, 150)):03d}", int(rng.integers(0, 400)))]
        else:
            for _ in range(4):
                product = f"p{min(int(rng.exponential(2.0)), 149):03d}"
                rows.append((f"c{u:03d}", product, int(rng.integers(0, 400))))
    products = [(f"p{i:03d}", "grocery" if i % 2 else "home") for i in range(150)]
    return log_from(rows, products)


def test_the_chooser_picks_the_best_on_validation() -> None:
    config = RecommendConfig(
        per_customer=5, candidates=("popularity_global", "co_occurrence", "buy_again")
    )
    as_of = day(400)
    spine = [as_of - 90 - 28 * k for k in range(8)]
    result = evaluate(repeat_shop(1, repeat=True), spine, as_of, config)
    frame = result.frame[result.frame["customer_group"] == "all"]
    validation = frame[frame["cutoff_role"] == "validation"]
    pooled = (
        validation.groupby("recommender")["hit_customers"].sum()
        / validation.groupby("recommender")["customers"].sum()
    )
    assert result.chosen == pooled.idxmax() == frame.loc[frame["is_chosen"], "recommender"].iloc[0]
    assert result.chosen in ("buy_again",)
    holdout = frame[(frame["cutoff_role"] == "holdout") & (frame["recommender"] == result.chosen)]
    assert holdout["hit_rate_diff_ci_low"].iloc[0] > 0  # beats the best popularity list
    assert frame["is_chosen"].sum() == len(frame[frame["recommender"] == result.chosen])


def test_cutoffs_evaluated_in_parallel_give_the_same_evaluation(monkeypatch) -> None:
    """Every candidate (ALS included) at three cutoffs, one at a time and two at once:
    the same rows, the same choice and the same mix."""
    as_of = day(400)
    spine = [as_of - 90 - 28 * k for k in range(8)]
    purchases = repeat_shop(3, repeat=True)
    results = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("RETENTION_ML_FIT_WORKERS", workers)
        results[workers] = evaluate(purchases, spine, as_of, RecommendConfig(per_customer=5))
    one, two = results["1"], results["2"]
    assert len(one.plan) == 3 and one.frame["recommender"].nunique() >= 10
    pd.testing.assert_frame_equal(one.frame, two.frame)
    assert (one.chosen, one.mix, one.blend_base) == (two.chosen, two.mix, two.blend_base)


def test_batches_listed_in_parallel_give_the_same_lists(monkeypatch) -> None:
    """Every candidate's lists, one batch of customers at a time and two at once."""
    monkeypatch.setattr(candidates_module, "_BATCH", 64)  # several batches of 300 customers
    purchases = repeat_shop(4, repeat=True)
    history = purchases.history(day(300))
    users = np.arange(purchases.n_customers)[::-1]
    config = RecommendConfig(per_customer=5)
    one, two = ListMaker(history, config, users), ListMaker(history, config, users, workers=2)
    for spec in candidates(config):
        a, b = one.lists(spec, 8), two.lists(spec, 8)
        assert (a.items >= 0).any(), spec.name
        for field in ("items", "scores", "kinds"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), spec.name)


def test_without_repeat_purchases_popularity_is_chosen() -> None:
    config = RecommendConfig(
        per_customer=5, candidates=("popularity_global", "co_occurrence", "buy_again")
    )
    as_of = day(400)
    spine = [as_of - 90 - 28 * k for k in range(8)]
    result = evaluate(repeat_shop(2, repeat=False), spine, as_of, config)
    assert result.chosen.startswith("popularity_global")


def test_the_choice_never_looks_at_the_holdout_window() -> None:
    """Changing what customers buy after the holdout cutoff changes its metrics, not the choice."""
    config = RecommendConfig(per_customer=5, candidates=("popularity_global", "buy_again"))
    as_of = day(400)
    spine = [as_of - 90 - 28 * k for k in range(8)]
    base = repeat_shop(1, repeat=True)
    first = evaluate(base, spine, as_of, config)
    # everyone buys the best seller in the holdout window, nobody their own product
    holdout = as_of - 90
    frame = pd.DataFrame({"customer_id": base.customer_ids[base.customer], "product_id": base.product_ids[base.product],
                          "purchased_date": pd.to_datetime(base.day, unit="D").date, "completed_orders": 1,
                          "returned_orders": 0})  # fmt: skip
    keep = (base.day < holdout) | (base.day >= holdout + 28)
    extra = pd.DataFrame({"customer_id": base.customer_ids, "product_id": "p000",
                          "purchased_date": dt.date(1970, 1, 1) + dt.timedelta(days=holdout + 3),
                          "completed_orders": 1, "returned_orders": 0})  # fmt: skip
    catalogue = pd.DataFrame({"product_id": base.product_ids, "category": base.category})
    changed = PurchaseLog.from_frames(pd.concat([frame[keep], extra]), catalogue)
    second = evaluate(changed, spine, as_of, config)
    assert second.chosen == first.chosen
    validation = first.frame["cutoff_role"] == "validation"
    pd.testing.assert_frame_equal(
        first.frame[validation].reset_index(drop=True),
        second.frame[validation].reset_index(drop=True),
    )
    assert not first.frame[~validation]["hit_rate"].equals(second.frame[~validation]["hit_rate"])


# ---------------------------------------------------------------------------- pipeline
@pytest.fixture
def demo_like(tmp_path):
    purchases = repeat_shop(1, repeat=True)
    lines = pd.DataFrame(
        {
            "customer_id": purchases.customer_ids[purchases.customer],
            "product_id": purchases.product_ids[purchases.product],
            "purchased_date": pd.to_datetime(purchases.day, unit="D"),
            "completed_orders": 1,
            "returned_orders": 0,
        }
    )
    products = pd.DataFrame({"product_id": purchases.product_ids, "category": purchases.category})
    as_of = pd.Timestamp(D0 + dt.timedelta(days=400))
    cutoffs = pd.DataFrame(
        {"cutoff_date": [as_of] + [as_of - pd.Timedelta(days=90 + 28 * k) for k in range(8)],
         "as_of_date": as_of}
    )  # fmt: skip
    scores = pd.DataFrame(
        {"customer_id": ["c000", "c001", "c002", "new_customer"], "as_of_date": as_of,
         "risk_tier": ["high", "low", "medium", "high"]}
    )  # fmt: skip
    return lines, products, cutoffs, scores, RecommendationRegistry(tmp_path / "registry")


def test_pipeline_evaluates_records_and_explains(demo_like, monkeypatch) -> None:
    lines, products, cutoffs, scores, registry = demo_like
    settings = {
        "per_customer": "3",
        "candidates": "popularity_global,co_occurrence,buy_again,blend",
    }
    evaluation = run_evaluation(lines, products, cutoffs, settings, registry)
    assert list(evaluation.columns) == EVALUATION_COLUMNS
    assert evaluation["is_chosen"].any()
    record = registry.latest()
    assert (
        record["chosen_recommender"]
        == evaluation.loc[evaluation["is_chosen"], "recommender"].iloc[0]
    )
    assert [c["role"] for c in record["cutoffs"]] == ["validation", "validation", "holdout"]
    # a rerun on the same data writes the same record
    again = run_evaluation(lines, products, cutoffs, settings, registry)
    pd.testing.assert_frame_equal(evaluation, again)
    assert registry.latest()["recorded_at"] == record["recorded_at"]

    monkeypatch.setattr(
        "retention.recommend.pipeline.RecommendationRegistry", lambda: registry, raising=False
    )
    recs = run_recommendations(lines, products, cutoffs, scores, evaluation, settings)
    assert list(recs.columns) == RECOMMENDATION_COLUMNS
    assert set(recs["customer_id"]) == {"c000", "c002", "new_customer"}  # high and medium only
    assert recs.groupby("customer_id")["recommendation_rank"].apply(list).map(len).eq(3).all()
    assert recs["reason"].notna().all() and recs["reason"].str.len().gt(10).all()
    # a customer with no history gets best sellers; one with a rhythm hears about it
    assert set(recs.loc[recs["customer_id"] == "new_customer", "recommendation_source"]) == {
        "popularity"
    }
    again_rows = recs[recs["recommendation_source"] == "buy_again"]
    if len(again_rows):
        assert (
            again_rows["reason"].str.contains(r"you buy this every ~\d+ days|you bought this").all()
        )
        assert again_rows["is_repeat_purchase"].all()


def test_settings_arrive_as_strings_and_bad_ones_are_refused() -> None:
    config = recommend_config(
        {"per_customer": "4", "candidates": "als, buy_again", "owned_products": "never"}
    )
    assert config.per_customer == 4 and config.candidates == ("als", "buy_again")
    with pytest.raises(ValueError, match="recommend_owned_products"):
        recommend_config({"owned_products": "sometimes"})
    with pytest.raises(ValueError, match="unknown"):
        recommend_config({"candidates": "popularity_global,magic"})


def test_parameters_record_the_mix(demo_like) -> None:
    lines, products, cutoffs, _, registry = demo_like
    evaluation = run_evaluation(lines, products, cutoffs, {"per_customer": "3"}, registry)
    blend_row = evaluation[evaluation["recommender"] == "blend"].iloc[0]
    params = json.loads(blend_row["parameters_json"])
    assert {"new_to_you", "buy_again_slots", "buy_again_threshold"} <= set(params)


def test_the_order_rows_arrive_in_changes_nothing(demo_like, monkeypatch) -> None:
    """A warehouse returns rows in any order (DuckDB's parallel scans do): the run_id, the
    evaluation and the lists must not depend on it, or a rebuild is not idempotent."""
    lines, products, cutoffs, scores, registry = demo_like
    settings = {"per_customer": "3", "candidates": "popularity_global,co_occurrence,blend"}
    monkeypatch.setattr(
        "retention.recommend.pipeline.RecommendationRegistry", lambda: registry, raising=False
    )
    results = []
    for seed in (1, 2):
        shuffled_lines = lines.sample(frac=1, random_state=seed).reset_index(drop=True)
        shuffled_products = products.sample(frac=1, random_state=seed).reset_index(drop=True)
        evaluation = run_evaluation(shuffled_lines, shuffled_products, cutoffs, settings, registry)
        recs = run_recommendations(
            shuffled_lines, shuffled_products, cutoffs, scores, evaluation, settings
        )
        results.append((evaluation, recs))
    pd.testing.assert_frame_equal(results[0][0], results[1][0])
    pd.testing.assert_frame_equal(results[0][1], results[1][1])


def test_owned_flags_with_and_without_listed_products() -> None:
    """No list at all (nobody at risk) is a valid build, not a crash (it crashed the
    activity-churn demo build: scipy returns a sparse matrix for an empty lookup)."""
    from retention.recommend.pipeline import owned_flags

    owned = sp.csr_matrix(np.array([[1, 0, 2], [0, 0, 1]]))
    users, items = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2])
    assert owned_flags(owned, users, items).tolist() == [True, False, False, True]
    empty = owned_flags(owned, np.array([], dtype=int), np.array([], dtype=int))
    assert empty.dtype == bool and empty.shape == (0,)
