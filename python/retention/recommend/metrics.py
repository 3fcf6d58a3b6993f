"""Top-N metrics of recommendation lists against what customers bought, and a paired
bootstrap of the hit-rate difference between two recommenders.

Definitions (per customer, list of N products; "bought" = distinct products of completed
orders in the window after the cutoff):

* hit: at least one listed product was bought; **hit rate@N** = share of customers with a hit
  (customers who bought nothing count as misses);
* **precision@N** = listed products bought / N, averaged over the same customers;
* **recall@N** = listed products bought / products bought, averaged over the customers who
  bought something (undefined otherwise);
* **NDCG@N** = sum of 1 / log2(rank + 1) over the bought listed products, divided by its
  maximum min(N, bought) products would reach, averaged over the customers who bought;
* **catalogue coverage** = distinct products listed / catalogue products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from retention.recommend.candidates import is_stored, pair_keys


@dataclass
class UserOutcomes:
    """Per listed customer: hits, products bought in the window, and discounted gain."""

    hits: np.ndarray  # int: listed products bought
    bought: np.ndarray  # int: distinct products bought in the window
    dcg: np.ndarray  # float
    idcg: np.ndarray  # float

    @property
    def hit(self) -> np.ndarray:
        return self.hits > 0


def user_outcomes(items: np.ndarray, window: sp.csr_matrix, users: np.ndarray) -> UserOutcomes:
    """``items``: (b, N) product codes (-1 = empty slot) for customer codes ``users``."""
    n = items.shape[1]
    keys = pair_keys(window, users)
    local = np.broadcast_to(np.arange(len(users))[:, None], items.shape)
    hit = is_stored(keys, window.shape[1], local, items)
    discount = 1.0 / np.log2(np.arange(2, n + 2))
    bought = np.diff(window[users].indptr)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])
    return UserOutcomes(
        hits=hit.sum(axis=1),
        bought=bought,
        dcg=(hit * discount[None, :]).sum(axis=1),
        idcg=ideal[np.minimum(bought, n)],
    )


def summarise(
    outcomes: UserOutcomes,
    n: int,
    evaluated: int,
    listed_items: np.ndarray | None = None,
    catalogue_size: int | None = None,
) -> dict[str, float]:
    """Metrics over ``evaluated`` customers, of whom those in ``outcomes`` got lists (the
    others bought nothing in the window, so they are misses whatever their list).
    ``listed_items``: the lists the coverage is measured on."""
    active = outcomes.bought > 0
    buyers = int(active.sum())
    result = {
        "customers": int(evaluated),
        "active_customers": buyers,
        "hit_customers": int(outcomes.hit.sum()),
        "hit_rate": outcomes.hit.sum() / evaluated if evaluated else np.nan,
        "precision_at_n": outcomes.hits.sum() / (n * evaluated) if evaluated else np.nan,
        "recall_at_n": float(np.mean(outcomes.hits[active] / outcomes.bought[active]))
        if buyers
        else np.nan,
        "ndcg_at_n": float(np.mean(outcomes.dcg[active] / outcomes.idcg[active]))
        if buyers
        else np.nan,
    }
    if listed_items is not None and catalogue_size:
        listed = np.unique(listed_items[listed_items >= 0])
        result["catalogue_coverage"] = listed.size / catalogue_size
    return result


def paired_bootstrap(
    hit_a: np.ndarray,
    hit_b: np.ndarray,
    evaluated: int,
    samples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Hit rate of A minus B and its percentile bootstrap interval, resampling customers.

    ``hit_a``/``hit_b`` are 0/1 per listed customer (paired: the same customers); the other
    ``evaluated - len(hit_a)`` customers are misses for both, so their difference is 0. The
    resample of all ``evaluated`` customers is drawn exactly, as multinomial counts of the
    customers whose difference is not 0 and of everyone else lumped together.
    """
    diff = hit_a.astype(np.int64) - hit_b.astype(np.int64)
    point = diff.sum() / evaluated if evaluated else np.nan
    moved = diff[diff != 0]
    if evaluated == 0:
        return np.nan, np.nan, np.nan
    if moved.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    probabilities = np.append(np.full(moved.size, 1.0 / evaluated), 1.0 - moved.size / evaluated)
    totals = np.empty(samples)
    for start in range(0, samples, 500):
        size = min(500, samples - start)
        counts = rng.multinomial(evaluated, probabilities, size=size)[:, :-1]
        totals[start : start + size] = counts @ moved / evaluated
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(totals, [tail, 1.0 - tail])
    return float(point), float(low), float(high)
