"""The out-of-time protocol: which cutoffs validate and which one is held out, every
candidate's lists at each of them, the blend's mix, the choice, and the held-out comparison
with the best popularity list.

* Cutoffs come from the spine (``int_cutoffs_generated``): those whose window
  ``[c, c + horizon)`` has closed by ``as_of_date``. The latest is the **holdout**; the
  ``validation_cutoffs`` latest before it whose windows close by the holdout cutoff
  (purged: no validation hit lies after it) **validate**. Nothing at or after ``as_of_date``
  is read.
* At each cutoff every candidate is fitted on purchases before it and lists ``N`` products
  for every customer who bought before it (those who bought nothing in the window are
  misses for all, so only the buyers of the window and a fixed sample for the coverage
  need a list).
* The blend's mix and its new-to-you part, and then the recommender, are chosen on the
  validation cutoffs by pooled hit rate@N (ties go to the earlier, simpler candidate:
  popularity first). The holdout only reports.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from retention.churn.fits import calling_thread_limit, with_thread_limit
from retention.recommend.blend import Mix, blend, fill, learn_mix
from retention.recommend.candidates import (
    Als,
    BuyAgain,
    CoOccurrence,
    Lists,
    PopularityCategory,
    PopularityGlobal,
    PopularityRecent,
    Recommender,
)
from retention.recommend.data import History, PurchaseLog, day_date
from retention.recommend.metrics import paired_bootstrap, summarise, user_outcomes

log = logging.getLogger("retention.recommend")

POPULARITY_BASES = ("popularity_global", "popularity_category", "popularity_recent")
BASES = (*POPULARITY_BASES, "co_occurrence", "als", "buy_again")
ALL_CANDIDATES = (*BASES, "blend")
OWNED_POLICIES = ("learned", "always", "never")
INCL_OWNED = "_incl_owned"
GROUPS = ("all", "recency_top_half")


@dataclass
class RecommendConfig:
    """Settings (dbt vars, README "Recommendations")."""

    per_customer: int = 5
    horizon_days: int = 28
    popularity_days: int = 90
    recent_half_life_days: float = 14.0
    min_pair_customers: int = 2
    owned_products: str = "learned"
    validation_cutoffs: int = 2
    candidates: tuple[str, ...] = ALL_CANDIDATES
    seed: int = 42
    bootstrap_samples: int = 2000
    coverage_sample: int = 10_000
    risk_tiers: tuple[str, ...] = ("high", "medium")

    def validate(self) -> None:
        if self.owned_products not in OWNED_POLICIES:
            raise ValueError(
                f"recommend_owned_products must be one of {', '.join(OWNED_POLICIES)} "
                f"(got {self.owned_products!r})"
            )
        unknown = sorted(set(self.candidates) - set(ALL_CANDIDATES))
        if unknown:
            raise ValueError(
                f"recommendation_candidates: unknown {unknown}; use some of {', '.join(ALL_CANDIDATES)}"
            )
        if self.per_customer < 1 or self.horizon_days < 1:
            raise ValueError(
                "recommendations_per_customer and recommendation_horizon_days must be >= 1"
            )


@dataclass(frozen=True)
class Candidate:
    """One evaluated list: a base recommender and whether it may list owned products."""

    name: str
    base: str
    includes_owned: bool

    @property
    def is_popularity(self) -> bool:
        return self.base in POPULARITY_BASES


def candidates(config: RecommendConfig) -> list[Candidate]:
    """The candidates under the ownership rule, popularity first (the tie-break order).

    * ``never``: every list leaves out the customer's products; no buy-again, no blend.
    * ``always``: nothing is left out.
    * ``learned``: the new-to-you lists leave them out, buy-again lists only them, the
      blend mixes both, and the popularity lists are also evaluated with owned products
      (``<name>_incl_owned``: the plain best sellers, a stronger baseline where products are
      bought again). The choice on validation decides whether owned products are shown.
    """
    policy = config.owned_products
    chosen = [c for c in BASES if c in config.candidates]
    out: list[Candidate] = []
    for base in chosen:
        if base == "buy_again":
            if policy != "never":
                out.append(Candidate(base, base, True))
            continue
        out.append(Candidate(base, base, policy == "always"))
        if policy == "learned" and base in POPULARITY_BASES:
            out.append(Candidate(base + INCL_OWNED, base, True))
    return out


def build_recommender(candidate: Candidate, config: RecommendConfig) -> Recommender:
    owned = candidate.includes_owned
    if candidate.base == "popularity_global":
        return PopularityGlobal(config.popularity_days, includes_owned=owned)
    if candidate.base == "popularity_recent":
        return PopularityRecent(config.recent_half_life_days, includes_owned=owned)
    if candidate.base == "popularity_category":
        return PopularityCategory(config.popularity_days, includes_owned=owned)
    if candidate.base == "co_occurrence":
        return CoOccurrence(config.min_pair_customers, includes_owned=owned)
    if candidate.base == "als":
        return Als(seed=config.seed, includes_owned=owned)
    if candidate.base == "buy_again":
        return BuyAgain(config.horizon_days)
    raise ValueError(candidate.base)


class ListMaker:
    """Fits recommenders on one history (lazily, once each) and makes the lists of a fixed
    set of customers, each list once (the blend reuses its parts' lists)."""

    def __init__(
        self, history: History, config: RecommendConfig, users: np.ndarray, workers: int = 1
    ):
        self.history = history
        self.config = config
        self.users = np.asarray(users, dtype=np.int64)
        self.workers = workers  # batches listed at once (Recommender.recommend)
        self.fitted: dict[str, Recommender] = {}
        self.seconds: dict[str, float] = {}
        self._lists: dict[tuple, Lists] = {}

    def recommender(self, candidate: Candidate) -> Recommender:
        if candidate.name not in self.fitted:
            started = time.perf_counter()
            self.fitted[candidate.name] = build_recommender(candidate, self.config).fit(
                self.history
            )
            self._count(candidate.name, started)
        return self.fitted[candidate.name]

    def _count(self, name: str, started: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def raw(self, candidate: Candidate, depth: int) -> Lists:
        """The recommender's own lists (may be short)."""
        key = ("raw", candidate.name, depth)
        if key not in self._lists:
            recommender = self.recommender(candidate)
            started = time.perf_counter()
            self._lists[key] = recommender.recommend(self.users, depth, self.workers)
            self._count(candidate.name, started)
        return self._lists[key]

    def fallback(self, includes_owned: bool, depth: int) -> Lists:
        spec = Candidate("popularity_global" + (INCL_OWNED if includes_owned else ""),
                         "popularity_global", includes_owned)  # fmt: skip
        return self.raw(spec, depth)

    def lists(self, candidate: Candidate, depth: int) -> Lists:
        """The candidate's lists, topped up with popularity (under the same ownership rule
        as the candidate's new products) when it has fewer than ``depth``."""
        key = ("filled", candidate.name, depth)
        if key not in self._lists:
            raw = self.raw(candidate, depth)
            owned = self.config.owned_products == "always" or candidate.name.endswith(INCL_OWNED)
            started = time.perf_counter()
            self._lists[key] = fill(raw, self.fallback(owned, depth), depth)
            self._count(candidate.name, started)
        return self._lists[key]

    def blend_lists(self, base: Candidate, mix: Mix, depth: int) -> Lists:
        buy_again = self.raw(Candidate("buy_again", "buy_again", True), depth)
        new_to_you = self.lists(base, depth)
        started = time.perf_counter()
        mixed = blend(buy_again, new_to_you, depth, mix)
        filled = fill(mixed, self.fallback(self.config.owned_products == "always", depth), depth)
        self._count("blend", started)
        return filled


# ---------------------------------------------------------------------------- cutoffs
@dataclass(frozen=True)
class PlannedCutoff:
    day: int  # days since 1970-01-01
    role: str  # validation | holdout


def plan_cutoffs(
    cutoff_days: list[int], as_of_day: int, config: RecommendConfig
) -> list[PlannedCutoff]:
    """Holdout = the latest cutoff whose window closed by as_of_date; validation = the
    ``validation_cutoffs`` latest before it whose windows close by the holdout cutoff. With a
    single usable cutoff it validates and nothing is held out."""
    horizon = config.horizon_days
    usable = sorted(
        {c for c in cutoff_days if c < as_of_day and c + horizon <= as_of_day}, reverse=True
    )
    if not usable:
        return []
    holdout = usable[0]
    validation = [c for c in usable[1:] if c + horizon <= holdout][: config.validation_cutoffs]
    if not validation:
        return [PlannedCutoff(holdout, "validation")]
    return [PlannedCutoff(c, "validation") for c in sorted(validation)] + [
        PlannedCutoff(holdout, "holdout")
    ]


# ---------------------------------------------------------------------------- evaluation
@dataclass
class CutoffLists:
    """Every candidate's lists at one cutoff, for the customers that need one."""

    plan: PlannedCutoff
    window: sp.csr_matrix
    evaluated: np.ndarray  # customer codes who bought before the cutoff
    users: np.ndarray  # listed: bought in the window, or in the coverage sample
    in_sample: np.ndarray  # bool per listed customer
    groups: dict[str, tuple[np.ndarray, int]]  # name -> (mask over listed, customers evaluated)
    lists: dict[str, Lists] = field(default_factory=dict)
    maker: ListMaker | None = None


def prepare_cutoff(log_: PurchaseLog, plan: PlannedCutoff, config: RecommendConfig) -> CutoffLists:
    history = log_.history(plan.day)
    window = log_.window(plan.day, config.horizon_days)
    evaluated = history.buyers
    active = evaluated[np.diff(window[evaluated].indptr) > 0]
    rng = np.random.default_rng([config.seed, plan.day])
    size = min(config.coverage_sample, evaluated.size)
    sample = np.sort(rng.choice(evaluated, size=size, replace=False)) if size else evaluated[:0]
    users = np.union1d(active, sample)
    # recency_top_half: the half of the evaluated customers longest without a purchase (the
    # recency rule's riskier half; the churn tiers exist only at as_of_date)
    since = plan.day - history.last_purchase_day()[evaluated]
    threshold = np.median(since) if since.size else 0
    lapsing = evaluated[since >= threshold]
    groups = {
        "all": (np.ones(users.size, dtype=bool), int(evaluated.size)),
        "recency_top_half": (np.isin(users, lapsing), int(lapsing.size)),
    }
    return CutoffLists(
        plan=plan,
        window=window,
        evaluated=evaluated,
        users=users,
        in_sample=np.isin(users, sample),
        groups=groups,
        maker=ListMaker(history, config, users),
    )


def _metric_rows(cut: CutoffLists, name: str, lists: Lists, n: int, catalogue: int) -> list[dict]:
    outcomes = user_outcomes(lists.items[:, :n], cut.window, cut.users)
    rows = []
    for group, (mask, evaluated) in cut.groups.items():
        sub = type(outcomes)(
            *(getattr(outcomes, f)[mask] for f in ("hits", "bought", "dcg", "idcg"))
        )
        listed = lists.items[mask & cut.in_sample, :n]
        metrics = summarise(sub, n, evaluated, listed, catalogue)
        rows.append({"recommender": name, "cutoff_day": cut.plan.day, "cutoff_role": cut.plan.role,
                     "customer_group": group, **metrics})  # fmt: skip
    return rows


@dataclass
class Evaluation:
    """What the protocol found (the rows of fct_recommendation_evaluation and the choice)."""

    frame: pd.DataFrame
    chosen: str
    mix: Mix | None
    blend_base: str | None
    plan: list[PlannedCutoff]
    comparison: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate(
    log_: PurchaseLog, cutoff_days: list[int], as_of_day: int, config: RecommendConfig
) -> Evaluation:
    """Every candidate at every planned cutoff, the mix, the choice, the holdout comparison."""
    config.validate()
    n = config.per_customer
    depth = 2 * n  # deep enough that a blend's new-to-you part survives de-duplication
    specs = candidates(config)
    by_name = {c.name: c for c in specs}
    catalogue = int(log_.in_catalog.sum())
    plan = plan_cutoffs(cutoff_days, as_of_day, config)
    if not specs:
        log.warning("recommendations: no candidate left under recommend_owned_products=%s; "
                    "popularity_global ships", config.owned_products)  # fmt: skip
        return Evaluation(pd.DataFrame(), "popularity_global", None, None, plan)
    if not plan:
        log.warning(
            "recommendations: no cutoff has a closed %d-day window before as_of_date; nothing "
            "evaluated, popularity_global ships",
            config.horizon_days,
        )
        return Evaluation(pd.DataFrame(), "popularity_global", None, None, plan)
    cuts, frame, seconds = _evaluate_cutoffs(log_, plan, specs, config, depth, catalogue)

    def pooled(name: str) -> float:
        return _pooled_hit_rate(frame, name)

    mix = blend_base = None
    if "blend" in config.candidates and "buy_again" in by_name:
        mix, blend_base, frame = _fit_blend(cuts, frame, specs, config, depth, catalogue, seconds)
    names = [c.name for c in specs] + (["blend"] if mix is not None else [])
    # ---- the choice: the best pooled validation hit rate; ties to the earlier name
    chosen = max(names, key=lambda name: (pooled(name), -names.index(name)))
    log.info(
        "recommendations: chose %s (validation hit rate@%d %.4f; best popularity %.4f)",
        chosen, n, pooled(chosen), max((pooled(c.name) for c in specs if c.is_popularity), default=np.nan),
    )  # fmt: skip
    comparison = _holdout_comparison(frame, cuts, names, chosen, by_name, n, config)
    frame = _decorate(frame, chosen, mix, blend_base, by_name, config, comparison)
    return Evaluation(frame, chosen, mix, blend_base, plan, comparison, seconds)


def _evaluate_cutoffs(log_, plan, specs, config: RecommendConfig, depth: int, catalogue: int):
    """Every candidate's lists and metrics at every planned cutoff; fitting seconds.

    The cutoffs are independent (each fits on its own history, with its own seeded sample),
    so up to ``recommend_workers()`` run at once in threads: ALS, the top-k and the sparse
    products run in compiled code that releases the GIL. Results are collected in plan
    order, so they are the same with any number of workers."""
    from concurrent.futures import ThreadPoolExecutor

    def one(planned: PlannedCutoff):
        return _evaluate_cutoff(log_, planned, specs, config, depth, catalogue)

    workers = min(recommend_workers(), len(plan))
    if workers <= 1:
        done = [one(planned) for planned in plan]
    else:
        limit = calling_thread_limit()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rec-cutoff") as pool:
            done = list(pool.map(lambda p: with_thread_limit(limit, one, p), plan))
    cuts = [cut for cut, _ in done]
    rows = [row for _, cut_rows in done for row in cut_rows]
    seconds: dict[str, float] = {}
    for cut in cuts:
        for name, s in cut.maker.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + s
    return cuts, pd.DataFrame(rows), seconds


def recommend_workers() -> int:
    """Threads for the recommendations: cutoffs evaluated at once, and batches of customers
    listed at once for the shipped lists. The churn models' fit_workers()
    (RETENTION_ML_FIT_WORKERS; 2, or 1 on a one-core machine). The evaluation runs beside
    churn training, whose fits take both cores too: the threads share them, and the build
    still ends sooner than with the evaluation alone at the end (docs/recommendations.md)."""
    from retention.churn.pipeline import fit_workers

    return fit_workers()


def _evaluate_cutoff(log_, planned, specs, config: RecommendConfig, depth: int, catalogue: int):
    """One cutoff: its lists for every candidate and their metric rows."""
    n = config.per_customer
    started = time.perf_counter()
    cut = prepare_cutoff(log_, planned, config)
    rows: list[dict] = []
    for spec in specs:
        cut.lists[spec.name] = cut.maker.lists(spec, depth)
        rows += _metric_rows(cut, spec.name, cut.lists[spec.name], n, catalogue)
    log.info(
        "recommendations: %s cutoff %s: %d customers, %d bought in the %d-day window; "
        "%d candidates in %.1fs",
        planned.role, day_date(planned.day), cut.evaluated.size, int(cut.groups["all"][0].size and
        (np.diff(cut.window[cut.users].indptr) > 0).sum()), config.horizon_days, len(specs),
        time.perf_counter() - started,
    )  # fmt: skip
    return cut, rows


def _pooled_hit_rate(frame: pd.DataFrame, name: str) -> float:
    """A recommender's hit rate over every validation cutoff's customers."""
    sub = frame[(frame["recommender"] == name) & (frame["cutoff_role"] == "validation")
                & (frame["customer_group"] == "all")]  # fmt: skip
    return float(sub["hit_customers"].sum() / max(sub["customers"].sum(), 1))


def _fit_blend(cuts, frame, specs, config: RecommendConfig, depth: int, catalogue: int, seconds):
    """The blend: its new-to-you part and its mix, learned on validation only; its lists
    and metrics at every cutoff. (None, None, frame) without a new-to-you candidate."""
    n = config.per_customer
    by_name = {c.name: c for c in specs}
    new_parts = [c for c in specs if c.base != "buy_again" and not c.name.endswith(INCL_OWNED)]
    if not new_parts:
        return None, None, frame
    base = max(new_parts, key=lambda c: (_pooled_hit_rate(frame, c.name), -specs.index(c)))
    parts = [
        (c.maker.raw(by_name["buy_again"], depth), c.lists[base.name],
         c.window, c.users, c.groups["all"][1])
        for c in cuts if c.plan.role == "validation"
    ]  # fmt: skip
    mix, _ = learn_mix(parts, n)
    for cut in cuts:
        cut.lists["blend"] = cut.maker.blend_lists(base, mix, depth)
        seconds["blend"] = seconds.get("blend", 0.0) + cut.maker.seconds.get("blend", 0.0)
        rows_blend = _metric_rows(cut, "blend", cut.lists["blend"], n, catalogue)
        frame = pd.concat([frame, pd.DataFrame(rows_blend)], ignore_index=True)
    log.info(
        "recommendations: blend = buy_again (up to %d with P >= %.2f) + %s",
        mix.slots,
        mix.threshold,
        base.name,
    )
    return mix, base.name, frame


def _holdout_comparison(frame, cuts, names, chosen, by_name, n, config) -> dict:
    """At the holdout: every recommender's hit rate minus the best popularity list's (the
    best *on the holdout*, the strictest baseline), with a paired bootstrap interval."""
    holdout = [c for c in cuts if c.plan.role == "holdout"]
    if not holdout:
        return {}
    cut = holdout[0]
    rows = frame[(frame["cutoff_role"] == "holdout") & (frame["customer_group"] == "all")]
    popular = rows[rows["recommender"].isin([k for k, c in by_name.items() if c.is_popularity])]
    if popular.empty:
        return {}
    best = popular.sort_values(["hit_rate", "recommender"], ascending=[False, True]).iloc[0][
        "recommender"
    ]
    evaluated = cut.groups["all"][1]
    hit = {
        name: user_outcomes(cut.lists[name].items[:, :n], cut.window, cut.users).hit
        for name in names
    }
    result = {"best_popularity": best, "cutoff_day": cut.plan.day, "per_recommender": {}}
    for i, name in enumerate(names):
        point, low, high = paired_bootstrap(
            hit[name], hit[best], evaluated, config.bootstrap_samples, seed=config.seed + i
        )
        result["per_recommender"][name] = (point, low, high)
    point, low, high = result["per_recommender"][chosen]
    log.info(
        "recommendations: holdout %s: %s hit rate@%d minus %s = %+.4f (95%% CI %+.4f to %+.4f)",
        day_date(cut.plan.day), chosen, n, best, point, low, high,
    )  # fmt: skip
    return result


def parameters_of(
    name: str,
    spec: Candidate | None,
    mix: Mix | None,
    blend_base: str | None,
    config: RecommendConfig,
) -> dict:
    """A recommender's settings as recorded: its constructor's parameters (the blend: its mix)."""
    if name == "blend":
        return {"new_to_you": blend_base, **(mix.as_dict() if mix else {})}
    if spec is None:
        return {}
    recommender = build_recommender(spec, config)
    return {k: v for k, v in vars(recommender).items() if not k.endswith("_")}


def _decorate(frame, chosen, mix, blend_base, by_name, config, comparison) -> pd.DataFrame:
    frame = frame.copy()
    frame["cutoff_date"] = [day_date(d) for d in frame["cutoff_day"]]
    frame["window_end_date"] = [day_date(d + config.horizon_days) for d in frame["cutoff_day"]]
    frame["list_length"] = config.per_customer
    frame["is_chosen"] = frame["recommender"].eq(chosen)
    frame["is_popularity_baseline"] = frame["recommender"].map(
        lambda r: bool(by_name[r].is_popularity) if r in by_name else False
    )
    frame["includes_owned"] = frame["recommender"].map(
        lambda r: by_name[r].includes_owned if r in by_name else config.owned_products != "never"
    )
    frame["parameters_json"] = frame["recommender"].map(
        lambda r: json.dumps(
            parameters_of(r, by_name.get(r), mix, blend_base, config), sort_keys=True
        )
    )
    per = comparison.get("per_recommender", {})
    on_holdout = (frame["cutoff_role"] == "holdout") & (frame["customer_group"] == "all")
    columns = ("hit_rate_vs_best_popularity", "hit_rate_diff_ci_low", "hit_rate_diff_ci_high")
    for index, column in enumerate(columns):
        values = frame["recommender"].map(lambda r, i=index: per.get(r, (np.nan,) * 3)[i])
        frame[column] = np.where(on_holdout, values, np.nan)
    frame["best_popularity_recommender"] = np.where(
        on_holdout, comparison.get("best_popularity"), None
    )
    return frame.drop(columns=["cutoff_day"])
