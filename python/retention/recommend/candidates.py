"""The candidate recommenders. Each is fitted on a :class:`History` (purchases before a
cutoff) and returns, for a set of customers, a ranked list of product codes.

* ``popularity_global``: distinct buyers of the product in the ``popularity_days`` before
  the cutoff (the plain "best sellers" list);
* ``popularity_recent``: every purchase day counts ``0.5 ** (age / half_life)`` (trending;
  catches products launched recently);
* ``popularity_category``: ``P(category | customer) * P(product | category)``: the customer's
  category mix (smoothed towards the shop's) times the best sellers of each category;
* ``co_occurrence``: item-item cosine similarity of the buyer sets with a shrinkage term,
  ``c_ij / sqrt(n_i n_j) * c_ij / (c_ij + shrinkage)``; pairs with fewer than
  ``min_pair_customers`` common buyers are dropped and ``neighbours`` kept per product. A
  customer's score for j sums the similarities to the products they bought, each weighted by
  how recently they bought it (half-life ``history_half_life_days``);
* ``als``: implicit-feedback matrix factorisation (alternating least squares from the
  ``implicit`` package; confidence from the number of purchase days);
* ``buy_again``: only products the customer already bought, ranked by the probability that
  they buy it again within the horizon (:class:`BuyAgain`).

Lists leave out the customer's own products unless the recommender ``includes_owned``
(``recommend_owned_products``), and only ever hold catalogue products.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import special

from retention.recommend.data import History

#: What produced a list entry (``Lists.kinds``); the mart's recommendation_source is
#: SOURCE_OF_KIND (the three popularity lists are all "popularity").
KINDS = (
    "popularity_global",
    "popularity_recent",
    "popularity_category",
    "co_occurrence",
    "als",
    "buy_again",
)
POPULARITY_GLOBAL, POPULARITY_RECENT, POPULARITY_CATEGORY, CO_OCCURRENCE, ALS_KIND, BUY_AGAIN = (
    range(len(KINDS))
)
SOURCE_OF_KIND = ("popularity", "popularity", "popularity", "co_occurrence", "als", "buy_again")
_BATCH = 4096
_ALS_BATCH = 4096


@dataclass
class Lists:
    """Ranked lists of a block of customers: (b, L) arrays, item -1 = empty slot."""

    items: np.ndarray  # int32 product codes
    scores: np.ndarray  # float64, comparable within one source only
    kinds: np.ndarray  # int8 index into KINDS, -1 = empty

    @classmethod
    def empty(cls, b: int, length: int) -> Lists:
        return cls(
            np.full((b, length), -1, dtype=np.int32),
            np.full((b, length), np.nan),
            np.full((b, length), -1, dtype=np.int8),
        )

    @classmethod
    def concat(cls, parts: list[Lists], length: int) -> Lists:
        if not parts:
            return cls.empty(0, length)
        return cls(
            np.concatenate([p.items for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.kinds for p in parts]),
        )

    @property
    def length(self) -> int:
        return self.items.shape[1]

    def take(self, rows: np.ndarray) -> Lists:
        return Lists(self.items[rows], self.scores[rows], self.kinds[rows])

    def head(self, n: int) -> Lists:
        return Lists(self.items[:, :n], self.scores[:, :n], self.kinds[:, :n])


def pair_keys(matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Sorted keys ``local_row * width + column`` of the stored entries of ``matrix[users]``."""
    rows = matrix[users]
    local = np.repeat(np.arange(len(users), dtype=np.int64), np.diff(rows.indptr))
    return np.sort(local * matrix.shape[1] + rows.indices)


def is_stored(keys: np.ndarray, width: int, local: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Whether each (local row, item) is among ``keys`` (from :func:`pair_keys`)."""
    if keys.size == 0:
        return np.zeros(np.shape(item), dtype=bool)
    query = np.asarray(local, dtype=np.int64) * width + np.maximum(item, 0)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return (keys[pos] == query) & (np.asarray(item) >= 0)


def compact(
    items: np.ndarray, scores: np.ndarray, keep: np.ndarray, n: int, kind: int | np.ndarray
) -> Lists:
    """The first ``n`` kept entries of each (already ranked) row."""
    out = Lists.empty(items.shape[0], n)
    rank = np.cumsum(keep, axis=1) - 1
    rows, cols = np.nonzero(keep & (rank < n))
    slots = rank[rows, cols]
    out.items[rows, slots] = items[rows, cols]
    out.scores[rows, slots] = scores[rows, cols]
    out.kinds[rows, slots] = kind if np.isscalar(kind) else kind[rows, cols]
    return out


def top_of_pairs(
    local: np.ndarray, item: np.ndarray, score: np.ndarray, b: int, n: int, kind: int
) -> Lists:
    """Top ``n`` items per row from scored (row, item) pairs (ties: lower item code)."""
    out = Lists.empty(b, n)
    if local.size == 0:
        return out
    order = np.lexsort((item, -score, local))
    u, i, s = local[order], item[order], score[order]
    first = np.concatenate([[True], u[1:] != u[:-1]])
    rank = np.arange(u.size) - np.maximum.accumulate(np.where(first, np.arange(u.size), 0))
    keep = rank < n
    out.items[u[keep], rank[keep]] = i[keep]
    out.scores[u[keep], rank[keep]] = s[keep]
    out.kinds[u[keep], rank[keep]] = kind
    return out


class Recommender:
    """Base class: ``fit(history)``, then ``recommend(users, n)`` in batches of customers."""

    name = "recommender"
    kind = POPULARITY_GLOBAL

    def __init__(self, includes_owned: bool = False):
        self.includes_owned = includes_owned

    def fit(self, history: History) -> Recommender:
        self.history_ = history
        self.recommendable_ = history.log.in_catalog
        return self

    def recommend(self, users: np.ndarray, n: int, workers: int = 1) -> Lists:
        """Lists for ``users`` (customer codes), in that order. Batches group customers who
        own similar numbers of products: how deep a list must be searched depends on it.
        With ``workers`` > 1 batches run in threads (their sparse products and sorts release
        the GIL); each batch is computed alone, so the lists are the same with any count."""
        users = np.asarray(users, dtype=np.int64)
        order = np.argsort(np.diff(self.history_.owned.indptr)[users], kind="stable")
        batches = [users[order[i : i + _BATCH]] for i in range(0, len(users), _BATCH)]
        if workers <= 1 or len(batches) < 2:
            parts = [self._recommend(batch, n) for batch in batches]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rec-batch") as pool:
                parts = list(pool.map(lambda batch: self._recommend(batch, n), batches))
        return Lists.concat(parts, n).take(np.argsort(order, kind="stable"))

    def _recommend(self, users: np.ndarray, n: int) -> Lists:
        raise NotImplementedError

    def _allowed(self, users: np.ndarray, local: np.ndarray, item: np.ndarray) -> np.ndarray:
        """Catalogue products, and not the customer's own unless ``includes_owned``."""
        keep = self.recommendable_[np.maximum(item, 0)] & (item >= 0)
        if not self.includes_owned:
            keys = pair_keys(self.history_.owned, users)
            keep &= ~is_stored(keys, self.history_.n_products, local, item)
        return keep


# ---------------------------------------------------------------------------- popularity
class _RankedPopularity(Recommender):
    """A popularity score per product; each customer gets the best ones allowed to them."""

    def _scores(self, history: History) -> np.ndarray:
        raise NotImplementedError

    def fit(self, history: History) -> _RankedPopularity:
        super().fit(history)
        score = np.where(self.recommendable_, self._scores(history), 0.0)
        ranked = np.flatnonzero(score > 0)
        self.scores_ = score
        self.ranking_ = ranked[np.lexsort((ranked, -score[ranked]))].astype(np.int32)
        return self

    def _recommend(self, users: np.ndarray, n: int) -> Lists:
        b = len(users)
        owned = np.diff(self.history_.owned[users].indptr)
        depth = min(
            self.ranking_.size, n + (0 if self.includes_owned else int(owned.max(initial=0)))
        )
        items = np.broadcast_to(self.ranking_[:depth], (b, depth))
        local = np.broadcast_to(np.arange(b)[:, None], (b, depth))
        keep = self._allowed(users, local, items)
        return compact(items, self.scores_[items], keep, n, self.kind)


class PopularityGlobal(_RankedPopularity):
    """Distinct buyers in the ``days`` before the cutoff."""

    name = "popularity_global"

    def __init__(self, days: int = 90, includes_owned: bool = False):
        super().__init__(includes_owned)
        self.days = days

    def _scores(self, history: History) -> np.ndarray:
        c, p, d = history.lines()
        recent = d >= history.cutoff - self.days
        pairs = np.unique(c[recent].astype(np.int64) * history.n_products + p[recent])
        return np.bincount(pairs % history.n_products, minlength=history.n_products).astype(float)


class PopularityRecent(_RankedPopularity):
    """Purchase days weighted by ``0.5 ** (age / half_life_days)``."""

    name = "popularity_recent"
    kind = POPULARITY_RECENT

    def __init__(self, half_life_days: float = 14.0, includes_owned: bool = False):
        super().__init__(includes_owned)
        self.half_life_days = half_life_days

    def _scores(self, history: History) -> np.ndarray:
        _c, p, d = history.lines()
        age = history.cutoff - d  # >= 1: purchases are strictly before the cutoff
        weight = 0.5 ** (age / self.half_life_days)
        return np.bincount(p, weights=weight, minlength=history.n_products)


class PopularityCategory(Recommender):
    """``P(category | customer) * P(product | category)`` with the last ``days`` of sales."""

    name = "popularity_category"
    kind = POPULARITY_CATEGORY

    def __init__(self, days: int = 90, prior: float = 1.0, includes_owned: bool = False):
        super().__init__(includes_owned)
        self.days = days
        self.prior = prior

    def fit(self, history: History) -> PopularityCategory:
        super().fit(history)
        sales = np.where(self.recommendable_, PopularityGlobal(self.days)._scores(history), 0.0)
        categories, code = np.unique(history.log.category.astype(str), return_inverse=True)
        self.category_ = code.astype(np.int32)
        per_category = np.bincount(code, weights=sales, minlength=categories.size)
        self.within_ = np.where(sales > 0, sales / np.maximum(per_category[code], 1e-12), 0.0)
        self.share_ = per_category / max(per_category.sum(), 1e-12)
        # each category's products by sales (the candidates a customer can get)
        ranked = np.flatnonzero(sales > 0)
        ranked = ranked[np.lexsort((ranked, -sales[ranked], code[ranked]))]
        self.ranked_ = ranked.astype(np.int32)
        self.starts_ = np.searchsorted(code[ranked], np.arange(categories.size + 1))
        to_category = sp.csr_matrix(
            (np.ones(code.size), (np.arange(code.size), code)), shape=(code.size, categories.size)
        )
        self.mix_ = sp.csr_matrix(history.purchase_days @ to_category)  # purchase days per category
        return self

    def _recommend(self, users: np.ndarray, n: int) -> Lists:
        b = len(users)
        owned = np.diff(self.history_.owned[users].indptr)
        depth = n + (0 if self.includes_owned else int(owned.max(initial=0)))
        # candidates: the top `depth` products of every category
        pieces = [
            self.ranked_[self.starts_[k] : min(self.starts_[k + 1], self.starts_[k] + depth)]
            for k in range(self.starts_.size - 1)
        ]
        candidates = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        if candidates.size == 0:
            return Lists.empty(b, n)
        mix = self.mix_[users].toarray()
        totals = mix.sum(axis=1, keepdims=True)
        affinity = (mix + self.prior * self.share_[None, :]) / (totals + self.prior)
        score = affinity[:, self.category_[candidates]] * self.within_[candidates][None, :]
        items = np.broadcast_to(candidates, score.shape)
        order = np.argsort(-score, axis=1, kind="stable")  # ties keep the sales order
        items = np.take_along_axis(items, order, axis=1)
        score = np.take_along_axis(score, order, axis=1)
        local = np.broadcast_to(np.arange(b)[:, None], items.shape)
        keep = self._allowed(users, local, items)
        return compact(items, score, keep, n, self.kind)


# ---------------------------------------------------------------------------- co-occurrence
class CoOccurrence(Recommender):
    """Item-item cosine similarity with shrinkage over the buyer sets before the cutoff."""

    name = "co_occurrence"
    kind = CO_OCCURRENCE

    def __init__(
        self,
        min_pair_customers: int = 2,
        shrinkage: float = 3.0,
        neighbours: int = 50,
        history_half_life_days: float = 60.0,
        includes_owned: bool = False,
    ):
        super().__init__(includes_owned)
        self.min_pair_customers = min_pair_customers
        self.shrinkage = shrinkage
        self.neighbours = neighbours
        self.history_half_life_days = history_half_life_days

    def fit(self, history: History) -> CoOccurrence:
        super().fit(history)
        bought = history.purchase_days.copy()
        bought.data[:] = 1.0
        buyers = np.asarray(bought.sum(axis=0)).ravel()
        common = sp.coo_matrix(bought.T @ bought)
        i, j, c = common.row, common.col, common.data
        keep = (i != j) & (c >= self.min_pair_customers)
        i, j, c = i[keep], j[keep], c[keep].astype(np.float64)
        sim = c / np.sqrt(buyers[i] * buyers[j]) * c / (c + self.shrinkage)
        # the strongest `neighbours` related products of each product
        order = np.lexsort((j, -sim, i))
        i, j, c, sim = i[order], j[order], c[order], sim[order]
        first = np.concatenate([[True], i[1:] != i[:-1]])
        rank = np.arange(i.size) - np.maximum.accumulate(np.where(first, np.arange(i.size), 0))
        top = rank < self.neighbours
        n = history.n_products
        self.similarity_ = sp.csr_matrix((sim[top], (i[top], j[top])), shape=(n, n))
        self.common_buyers_ = sp.csr_matrix((c[top], (i[top], j[top])), shape=(n, n))
        pairs = history.pair_stats()
        age = history.cutoff - pairs["last_day"].to_numpy()
        weight = 0.5 ** (age / self.history_half_life_days)
        self.weights_ = sp.csr_matrix(
            (weight, (pairs["customer"].to_numpy(), pairs["product"].to_numpy())),
            shape=(history.n_customers, n),
        )
        return self

    def _recommend(self, users: np.ndarray, n: int) -> Lists:
        scores = sp.coo_matrix(self.weights_[users] @ self.similarity_)
        local, item, score = scores.row, scores.col.astype(np.int32), scores.data
        keep = self._allowed(users, local, item) & (score > 0)
        return top_of_pairs(local[keep], item[keep], score[keep], len(users), n, CO_OCCURRENCE)

    def strongest_link(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """For each recommended (user, item) of a (b, L) block: the product the customer
        bought that contributes most to the score (-1 if none): the "bought with" reason."""
        rows, slots = np.nonzero(items >= 0)
        out = np.full(items.shape, -1, dtype=np.int64)
        if rows.size == 0:
            return out
        weights = sp.coo_matrix(self.weights_[users])
        owned = pd.DataFrame({"row": weights.row, "owned": weights.col, "w": weights.data})
        wanted = pd.DataFrame({"row": rows, "slot": slots, "item": items[rows, slots]})
        triples = wanted.merge(owned, on="row")
        sim = self.similarity_[triples["owned"].to_numpy(), triples["item"].to_numpy()]
        triples["contribution"] = triples["w"].to_numpy() * np.asarray(sim).ravel()
        triples = triples[triples["contribution"] > 0]
        best = triples.sort_values(
            ["row", "slot", "contribution", "owned"], ascending=[True, True, False, True]
        )
        best = best.drop_duplicates(["row", "slot"])
        out[best["row"].to_numpy(), best["slot"].to_numpy()] = best["owned"].to_numpy()
        return out


# ---------------------------------------------------------------------------- ALS
class RowIndices:
    """A CSR matrix's rows as implicit's ``topk`` reads its ``filter_query_items``: it asks
    for ``filter[row].indices`` one row at a time. A scipy row lookup costs ~0.1 ms (about
    half of ALS's listing time at 100k customers); slicing the index array is the same answer
    without building a one-row matrix."""

    def __init__(self, matrix: sp.csr_matrix):
        self.indptr, self.indices = matrix.indptr, matrix.indices

    def __getitem__(self, row: int) -> SimpleNamespace:
        return SimpleNamespace(indices=self.indices[self.indptr[row] : self.indptr[row + 1]])


class Als(Recommender):
    """Implicit-feedback matrix factorisation (implicit.als.AlternatingLeastSquares)."""

    name = "als"
    kind = ALS_KIND

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 8,
        seed: int = 42,
        includes_owned: bool = False,
    ):
        super().__init__(includes_owned)
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed

    def fit(self, history: History) -> Als:
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        super().fit(history)
        # Only customers and products with a purchase before the cutoff are factorised: the
        # matrix (and so the random start) must not depend on who or what appears later.
        days = history.purchase_days
        self.users_ = np.flatnonzero(np.diff(days.indptr) > 0)
        self.items_ = np.flatnonzero(np.bincount(days.indices, minlength=days.shape[1]) > 0)
        self.row_of_ = np.full(days.shape[0], -1, dtype=np.int64)
        self.row_of_[self.users_] = np.arange(self.users_.size)
        confidence = days[self.users_][:, self.items_].tocsr()
        confidence.data = np.log1p(confidence.data).astype(np.float32) + 1.0
        # implicit's own loop is single-threaded here (deterministic, and dbt's other Python
        # models share the cores); BLAS inside it must be too, whoever calls (implicit checks)
        with threadpool_limits(limits=1, user_api="blas"):
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=1,
            )
            self.model_.fit(confidence, show_progress=False)
        return self

    def _recommend(self, users: np.ndarray, n: int) -> Lists:
        out = Lists.empty(len(users), n)
        # customers with no purchase have no factors worth ranking with: empty lists
        known = np.flatnonzero(self.row_of_[users] >= 0)
        if known.size == 0:
            return out
        from implicit.cpu.topk import topk  # implicit's C top-k, with per-customer filters

        excluded = np.flatnonzero(~self.recommendable_[self.items_]).astype(np.int32)
        for start in range(0, known.size, _ALS_BATCH):
            rows = known[start : start + _ALS_BATCH]
            factors = self.model_.user_factors[self.row_of_[users[rows]]]
            owned = None
            if not self.includes_owned:  # the customer's products, as columns of the model
                owned = RowIndices(self.history_.owned[users[rows]][:, self.items_].tocsr())
            depth = min(n, self.items_.size)
            ids, scores = topk(
                self.model_.item_factors,
                factors,
                depth,
                filter_query_items=owned,
                filter_items=excluded if excluded.size else None,
                num_threads=1,
            )
            valid = np.isfinite(scores) & (ids >= 0)
            out.items[rows, :depth] = np.where(valid, self.items_[np.maximum(ids, 0)], -1)
            out.scores[rows, :depth] = np.where(valid, scores, np.nan)
            out.kinds[rows, :depth] = np.where(valid, ALS_KIND, -1)
        return out


# ---------------------------------------------------------------------------- buy again
class BuyAgain(Recommender):
    """The customer's own products, by the probability of buying each again in the horizon.

    For a product bought on ``k`` distinct days, last ``d`` days before the cutoff:

    * ``p``, the chance the customer is a repeat buyer of it: ``(k - 1 + m * r) / (k + m)``,
      where ``r`` is the share of the product's buyers who bought it on two days or more
      (shrunk towards the shop's share) and ``m = prior_strength``;
    * ``g``, their rhythm: the median gap between their purchase days, shrunk towards the
      product's typical gap (the median over its repeat buyers) with weight ``k - 1`` vs 1;
    * gaps follow a gamma distribution of mean ``g`` and shape ``shape`` (``S`` = survival),
      so with no purchase for ``d`` days the chance they still buy it is
      ``p S(d) / (p S(d) + 1 - p)`` and the chance the next purchase falls in the horizon H
      is ``(S(d) - S(d + H)) / S(d)``; the score is their product,
      ``p (S(d) - S(d + H)) / (p S(d) + 1 - p)``.

    A product bought long overdue is thus less likely than one just due (the customer may
    have switched), and one bought once is likely only when its buyers usually come back.
    """

    name = "buy_again"
    kind = BUY_AGAIN

    def __init__(self, horizon_days: int = 28, shape: float = 2.0, prior_strength: float = 2.0):
        super().__init__(includes_owned=True)
        self.horizon_days = horizon_days
        self.shape = shape
        self.prior_strength = prior_strength

    def fit(self, history: History) -> BuyAgain:
        super().fit(history)
        pairs = history.pair_stats()
        n = history.n_products
        product = pairs["product"].to_numpy()
        days = pairs["days"].to_numpy().astype(float)
        buyers = np.bincount(product, minlength=n).astype(float)
        repeaters = np.bincount(product, weights=(days >= 2), minlength=n)
        shop_share = repeaters.sum() / max(buyers.sum(), 1.0)
        self.repeat_share_ = (repeaters + 5.0 * shop_share) / (buyers + 5.0)
        gaps = pairs["median_gap"].to_numpy()
        has_gap = np.isfinite(gaps)
        shop_gap = float(np.median(gaps[has_gap])) if has_gap.any() else 30.0
        typical = pd.Series(gaps[has_gap]).groupby(product[has_gap]).median()
        self.typical_gap_ = np.full(n, shop_gap)
        self.typical_gap_[typical.index.to_numpy()] = typical.to_numpy()
        score, rhythm = self._score(pairs)
        self.pairs_ = pairs.assign(score=score, rhythm_days=rhythm)
        self.pair_index_ = pd.Index(
            pairs["customer"].to_numpy().astype(np.int64) * n + product, name="key"
        )
        return self

    def _score(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        product = pairs["product"].to_numpy()
        k = pairs["days"].to_numpy().astype(float)
        own = pairs["median_gap"].to_numpy()
        typical = self.typical_gap_[product]
        rhythm = np.where(np.isfinite(own), ((k - 1) * np.nan_to_num(own) + typical) / k, typical)
        rhythm = np.maximum(rhythm, 1.0)
        m = self.prior_strength
        p = (k - 1 + m * self.repeat_share_[product]) / (k + m)
        d = (self.history_.cutoff - pairs["last_day"].to_numpy()).astype(float)
        scale = rhythm / self.shape
        # gamma survival S(x) = Q(shape, x / scale), the regularised upper incomplete gamma
        alive = special.gammaincc(self.shape, d / scale)
        later = special.gammaincc(self.shape, (d + self.horizon_days) / scale)
        score = p * (alive - later) / (p * alive + 1.0 - p)
        return np.clip(score, 0.0, 1.0), rhythm

    def _recommend(self, users: np.ndarray, n: int) -> Lists:
        pairs = self.pairs_
        customer = pairs["customer"].to_numpy()
        # pair_stats is sorted by customer: each user's pairs are one slice
        lo = np.searchsorted(customer, users, "left")
        hi = np.searchsorted(customer, users, "right")
        counts = hi - lo
        rows = np.repeat(np.arange(len(users)), counts)
        offset = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        idx = np.repeat(lo, counts) + offset
        item = pairs["product"].to_numpy()[idx].astype(np.int32)
        score = pairs["score"].to_numpy()[idx]
        keep = self.recommendable_[item]
        return top_of_pairs(rows[keep], item[keep], score[keep], len(users), n, BUY_AGAIN)

    def details(self, users: np.ndarray, items: np.ndarray) -> pd.DataFrame:
        """Per (user, item) of a block: purchase days, rhythm and days since the last one."""
        rows, slots = np.nonzero(items >= 0)
        key = users[rows].astype(np.int64) * self.history_.n_products + items[rows, slots]
        found = self.pair_index_.get_indexer(key)
        ok = found >= 0
        picked = self.pairs_.iloc[found[ok]]
        return pd.DataFrame(
            {
                "row": rows[ok],
                "slot": slots[ok],
                "days": picked["days"].to_numpy(),
                "rhythm_days": picked["rhythm_days"].to_numpy(),
                "since_days": self.history_.cutoff - picked["last_day"].to_numpy(),
            }
        )
