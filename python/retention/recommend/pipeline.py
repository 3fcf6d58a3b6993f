"""The functions the dbt Python models call (models/ml/ml_*recommendation*.py stay thin).

* :func:`run_evaluation` (``ml_recommendation_evaluation``): every candidate at the planned
  cutoffs, the blend's mix, the choice and the held-out comparison; writes the build's
  record to the registry and returns the evaluation rows.
* :func:`run_recommendations` (``ml_product_recommendations``): the chosen recommender (and
  mix) fitted on every purchase before as_of_date; lists for the at-risk customers, with a
  reason in words for each row.

Inputs may be DuckDB relations (what ``dbt.ref`` returns): only the needed columns are read
and filters run inside DuckDB. DataFrames work too (the tests use them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from retention.dbt_logging import forward_to_dbt
from retention.recommend.blend import Mix
from retention.recommend.candidates import KINDS, SOURCE_OF_KIND, BuyAgain, CoOccurrence, Lists
from retention.recommend.data import (
    LINE_COLUMNS,
    PRODUCT_COLUMNS,
    PurchaseLog,
    day_date,
    day_number,
)
from retention.recommend.protocol import (
    Candidate,
    ListMaker,
    RecommendConfig,
    candidates,
    evaluate,
    recommend_workers,
)
from retention.recommend.registry import RecommendationRegistry, run_id_for

log = logging.getLogger("retention.recommend")

EVALUATION_COLUMNS = [
    "run_id",
    "as_of_date",
    "recommender",
    "cutoff_date",
    "cutoff_role",
    "window_end_date",
    "customer_group",
    "list_length",
    "customers",
    "active_customers",
    "hit_customers",
    "hit_rate",
    "precision_at_n",
    "recall_at_n",
    "ndcg_at_n",
    "catalogue_coverage",
    "is_popularity_baseline",
    "includes_owned",
    "is_chosen",
    "parameters_json",
    "best_popularity_recommender",
    "hit_rate_vs_best_popularity",
    "hit_rate_diff_ci_low",
    "hit_rate_diff_ci_high",
]
RECOMMENDATION_COLUMNS = [
    "customer_id",
    "as_of_date",
    "recommendation_rank",
    "product_id",
    "category",
    "score",
    "recommendation_source",
    "reason",
    "is_repeat_purchase",
    "recommender",
    "run_id",
]


def recommend_config(settings: dict) -> RecommendConfig:
    """The config from dbt model config values (which arrive as strings)."""
    config = RecommendConfig()
    for f in fields(RecommendConfig):
        value = settings.get(f.name)
        if value is None or value == "":
            continue
        default = getattr(config, f.name)
        if isinstance(default, tuple):
            value = tuple(
                v.strip() for v in str(value).strip("[]()").replace("'", "").split(",") if v.strip()
            )
        elif isinstance(default, int):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        setattr(config, f.name, value)
    config.validate()
    return config


def _frame(source, columns: list[str], where: str | None = None) -> pd.DataFrame:
    """The columns of a DuckDB relation (filtered in DuckDB) or of a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return source[columns].copy()
    relation = source.filter(where) if where else source
    return relation.project(", ".join(columns)).df()


def _as_of(cutoffs) -> tuple[int, list[int]]:
    frame = _frame(cutoffs, ["cutoff_date", "as_of_date"])
    if frame.empty:
        raise ValueError("int_cutoffs_generated is empty: there is no data to recommend from")
    as_of = day_number(frame["as_of_date"].max())
    return as_of, sorted({day_number(c) for c in frame["cutoff_date"]})


def _threads():
    # reuse the churn models' BLAS/OpenMP cap (dbt runs Python models side by side)
    from retention.churn.pipeline import ml_threads

    return ml_threads()


# ---------------------------------------------------------------------------- evaluation
def run_evaluation(
    lines, products, cutoffs, settings: dict, registry: RecommendationRegistry | None = None
) -> pd.DataFrame:
    """fct_recommendation_evaluation rows of this build (and the registry record)."""
    with forward_to_dbt("retention.recommend"), _threads():
        return _run_evaluation(
            lines, products, cutoffs, settings, registry or RecommendationRegistry()
        )


def _run_evaluation(lines, products, cutoffs, settings, registry) -> pd.DataFrame:
    started = time.perf_counter()
    config = recommend_config(settings)
    as_of, cutoff_days = _as_of(cutoffs)
    purchases = PurchaseLog.from_frames(
        _frame(lines, LINE_COLUMNS), _frame(products, PRODUCT_COLUMNS)
    )
    log.info(
        "recommendations: %d purchase days of %d customers and %d products before %s",
        purchases.day.size, purchases.n_customers, purchases.n_products, day_date(as_of),
    )  # fmt: skip
    result = evaluate(purchases, cutoff_days, as_of, config)
    run_id = run_id_for(purchases.fingerprint(), str(day_date(as_of)), asdict(config))
    frame = result.frame
    if frame.empty:
        frame = pd.DataFrame(columns=EVALUATION_COLUMNS)
    else:
        frame["run_id"] = run_id
        frame["as_of_date"] = day_date(as_of)
    frame = frame.reindex(columns=EVALUATION_COLUMNS)
    comparison = result.comparison
    chosen_diff = comparison.get("per_recommender", {}).get(result.chosen)
    record = {
        "run_id": run_id,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "as_of_date": str(day_date(as_of)),
        "chosen_recommender": result.chosen,
        "mix": {"new_to_you": result.blend_base, **result.mix.as_dict()} if result.mix else None,
        "cutoffs": [{"cutoff_date": str(day_date(p.day)), "role": p.role} for p in result.plan],
        "holdout": {
            "best_popularity": comparison.get("best_popularity"),
            "hit_rate_difference": chosen_diff,
        }
        if comparison
        else None,
        "config": asdict(config),
        "data_fingerprint": purchases.fingerprint(),
        "seconds_per_candidate": {k: round(v, 3) for k, v in result.seconds.items()},
    }
    folder = registry.save(record, frame)
    log.info(
        "recommendations: evaluated in %.1fs; chose %s; record in %s",
        time.perf_counter() - started, result.chosen, folder,
    )  # fmt: skip
    return frame


# ---------------------------------------------------------------------------- shipping
def _choice(evaluation) -> tuple[str, Mix | None, str | None, str | None]:
    """(recommender, mix, the blend's new-to-you part, run_id) from the evaluation rows;
    popularity_global when nothing was evaluated."""
    frame = _frame(evaluation, ["run_id", "recommender", "is_chosen", "parameters_json"])
    chosen = frame[frame["is_chosen"].fillna(False).astype(bool)]
    if chosen.empty:
        return "popularity_global", None, None, None
    row = chosen.iloc[0]
    params = json.loads(row["parameters_json"])
    if row["recommender"] == "blend":
        mix = Mix(int(params["buy_again_slots"]), float(params["buy_again_threshold"]))
        return "blend", mix, params["new_to_you"], row["run_id"]
    return row["recommender"], None, None, row["run_id"]


def run_recommendations(
    lines, products, cutoffs, scores, evaluation, settings: dict
) -> pd.DataFrame:
    """fct_product_recommendations: lists for the at-risk customers of this build."""
    with forward_to_dbt("retention.recommend"), _threads():
        return _run_recommendations(lines, products, cutoffs, scores, evaluation, settings)


def _run_recommendations(lines, products, cutoffs, scores, evaluation, settings) -> pd.DataFrame:
    started = time.perf_counter()
    config = recommend_config(settings)
    as_of, _ = _as_of(cutoffs)
    as_of_date = day_date(as_of)
    tiers = ", ".join(f"'{t}'" for t in config.risk_tiers)
    at_risk = _frame(
        scores, ["customer_id", "as_of_date", "risk_tier"],
        where=f"as_of_date = DATE '{as_of_date}' and risk_tier in ({tiers})",
    )  # fmt: skip
    at_risk = at_risk[
        (pd.to_datetime(at_risk["as_of_date"]).dt.date == as_of_date)
        & at_risk["risk_tier"].isin(config.risk_tiers)
    ]
    customer_ids = np.sort(pd.unique(at_risk["customer_id"].astype(str).to_numpy(dtype=object)))
    catalogue = _frame(products, PRODUCT_COLUMNS)
    purchases = PurchaseLog.from_frames(_frame(lines, LINE_COLUMNS), catalogue, customer_ids)
    name, mix, blend_base, run_id = _choice(evaluation)
    history = purchases.history(as_of)
    users = pd.Index(purchases.customer_ids).get_indexer(customer_ids)
    maker = ListMaker(history, config, users, workers=recommend_workers())
    n = config.per_customer
    specs = {c.name: c for c in candidates(config)}
    if name == "blend":
        lists = maker.blend_lists(specs[blend_base], mix, n)
    else:
        spec = specs.get(name) or Candidate("popularity_global", "popularity_global", False)
        lists = maker.lists(spec, n)
    frame = explain(lists, users, maker, purchases, config)
    frame["as_of_date"] = as_of_date
    frame["recommender"] = name
    frame["run_id"] = run_id
    log.info(
        "recommendations: %d rows for %d at-risk customers with %s in %.1fs",
        len(frame), len(customer_ids), name, time.perf_counter() - started,
    )  # fmt: skip
    return frame.reindex(columns=RECOMMENDATION_COLUMNS)


def owned_flags(owned, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """True where the customer already bought the product: ``owned[users[i], items[i]]``.

    scipy returns a dense matrix for that lookup, but a sparse one when it is empty (no
    lists at all, e.g. no customer at risk), which numpy cannot compare."""
    picked = owned[users, items]
    dense = picked.toarray() if hasattr(picked, "toarray") else np.asarray(picked)
    return dense.ravel() > 0


def explain(lists: Lists, users: np.ndarray, maker: ListMaker, purchases: PurchaseLog,
            config: RecommendConfig) -> pd.DataFrame:  # fmt: skip
    """One row per listed product with its source and the reason in words."""
    history = maker.history
    rows, slots = np.nonzero(lists.items >= 0)
    item = lists.items[rows, slots]
    kind = lists.kinds[rows, slots]
    is_repeat = owned_flags(history.owned, users[rows], item)
    category = purchases.category[item]
    reason = np.empty(rows.size, dtype=object)
    _popularity_reasons(reason, kind, category, config)
    listed = _Listed(lists, users, rows, slots, item)
    is_co = kind == KINDS.index("co_occurrence")
    if is_co.any():
        reason[is_co] = _co_occurrence_reasons(listed, is_co, maker, purchases)
    is_ba = kind == KINDS.index("buy_again")
    if is_ba.any():
        reason[is_ba] = _buy_again_reasons(listed, is_ba, maker)
    popular = np.isin(
        kind,
        [KINDS.index(k) for k in ("popularity_global", "popularity_recent", "popularity_category")],
    )
    reason[popular & is_repeat] = [
        f"{r}; you have bought it before" for r in reason[popular & is_repeat]
    ]
    return pd.DataFrame(
        {
            "customer_id": purchases.customer_ids[users[rows]].astype(str),
            "recommendation_rank": slots + 1,
            "product_id": purchases.product_ids[item].astype(str),
            "category": [c or None for c in category],
            "score": lists.scores[rows, slots],
            "recommendation_source": np.array(SOURCE_OF_KIND, dtype=object)[kind],
            "reason": reason,
            "is_repeat_purchase": is_repeat,
        }
    )


@dataclass
class _Listed:
    """The listed (customer row, slot) pairs of a block of lists, and their products."""

    lists: Lists
    users: np.ndarray
    rows: np.ndarray
    slots: np.ndarray
    item: np.ndarray

    def block(self, mask: np.ndarray) -> np.ndarray:
        """The lists' shape with only the masked products in it (-1 elsewhere)."""
        block = np.full(self.lists.items.shape, -1, dtype=np.int32)
        block[self.rows[mask], self.slots[mask]] = self.item[mask]
        return block


def _popularity_reasons(reason: np.ndarray, kind, category, config: RecommendConfig) -> None:
    names = {
        KINDS.index("popularity_global"): f"one of the most bought products of the last {config.popularity_days} days",
        KINDS.index("popularity_recent"): "bought by many customers in the last few weeks",
        KINDS.index("als"): "bought by customers whose purchases are like yours",
    }  # fmt: skip
    for code, text in names.items():
        reason[kind == code] = text
    is_category = kind == KINDS.index("popularity_category")
    reason[is_category] = [f"a best seller in {c}, a category you buy from" if c else "a best seller"
                           for c in category[is_category]]  # fmt: skip


def _co_occurrence_reasons(listed: _Listed, mask, maker: ListMaker, purchases: PurchaseLog):
    """The product they bought that links most strongly."""
    co = maker.fitted["co_occurrence"]  # it made these rows, so it is fitted
    assert isinstance(co, CoOccurrence)
    link = co.strongest_link(listed.users, listed.block(mask))[
        listed.rows[mask], listed.slots[mask]
    ]
    return [
        f"often bought with {purchases.product_ids[p]} ({purchases.category[p] or 'uncategorised'}), which you bought"
        if p >= 0 else "often bought with products you bought" for p in link
    ]  # fmt: skip


def _buy_again_reasons(listed: _Listed, mask, maker: ListMaker) -> list[str]:
    """Their own rhythm, or the product's."""
    ba = maker.recommender(Candidate("buy_again", "buy_again", True))
    assert isinstance(ba, BuyAgain)
    details = ba.details(listed.users, listed.block(mask)).set_index(["row", "slot"])
    keys = pd.MultiIndex.from_arrays([listed.rows[mask], listed.slots[mask]])
    found = details.reindex(keys)
    return [
        f"you buy this every ~{r:.0f} days; last bought {s:.0f} days ago"
        if k >= 2 else f"you bought this {s:.0f} days ago; its buyers buy it again every ~{r:.0f} days"
        for k, r, s in zip(found["days"], found["rhythm_days"], found["since_days"], strict=True)
    ]  # fmt: skip
