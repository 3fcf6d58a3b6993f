"""Combining lists: topping a list up from a fallback, and the buy-again / new-to-you blend.

The blend puts the customer's buy-again products first, at most ``k`` of them and only those
whose buy-again probability is at least ``threshold``, then fills the list from a new-to-you
recommender. ``k`` and ``threshold`` (the mix) are learned on the validation cutoffs
(:func:`learn_mix`): ``k = 0`` is the new-to-you recommender alone, ``k = N, threshold = 0``
nearly buy-again alone, and the mix in between gives a customer with products due a
"buy it again" list and everyone else new products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from retention.recommend.candidates import Lists, compact
from retention.recommend.metrics import user_outcomes

#: The mix grid: buy-again slots 0..N, probability thresholds.
THRESHOLDS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def _duplicates(items: np.ndarray, taken: np.ndarray, taken_mask: np.ndarray) -> np.ndarray:
    """(b, L) mask: items[r, j] equals one of the used ``taken[r, :]`` entries."""
    same = items[:, :, None] == taken[:, None, :]
    return (same & taken_mask[:, None, :]).any(axis=2) & (items >= 0)


def fill(lists: Lists, fallback: Lists, n: int) -> Lists:
    """``lists`` (first ``n`` entries) topped up to ``n`` with fallback entries not in it."""
    head = lists.head(n)
    valid = head.items >= 0
    extra_ok = (fallback.items >= 0) & ~_duplicates(fallback.items, head.items, valid)
    items = np.concatenate([head.items, fallback.items], axis=1)
    scores = np.concatenate([head.scores, fallback.scores], axis=1)
    kinds = np.concatenate([head.kinds, fallback.kinds], axis=1)
    keep = np.concatenate([valid, extra_ok], axis=1)
    return compact(items, scores, keep, n, kinds)


@dataclass(frozen=True)
class Mix:
    """How many buy-again products lead the list, and how likely they must be."""

    slots: int
    threshold: float

    def as_dict(self) -> dict[str, float]:
        return {"buy_again_slots": self.slots, "buy_again_threshold": self.threshold}


def blend(buy_again: Lists, new_to_you: Lists, n: int, mix: Mix) -> Lists:
    """Buy-again entries first (ranked by probability, the first ``mix.slots`` of those at
    or above ``mix.threshold``), then the new-to-you entries not already listed."""
    ba = buy_again.head(n)
    eligible = (ba.items >= 0) & (ba.scores >= mix.threshold)
    use = eligible & (np.cumsum(eligible, axis=1) <= mix.slots)
    rest_ok = (new_to_you.items >= 0) & ~_duplicates(new_to_you.items, ba.items, use)
    items = np.concatenate([ba.items, new_to_you.items], axis=1)
    scores = np.concatenate([ba.scores, new_to_you.scores], axis=1)
    kinds = np.concatenate([ba.kinds, new_to_you.kinds], axis=1)
    keep = np.concatenate([use, rest_ok], axis=1)
    return compact(items, scores, keep, n, kinds)


def learn_mix(
    parts: list[tuple[Lists, Lists, sp.csr_matrix, np.ndarray, int]], n: int
) -> tuple[Mix, dict[Mix, float]]:
    """The mix with the highest hit rate@n pooled over the validation cutoffs.

    ``parts``: per validation cutoff (buy-again lists, new-to-you lists, window purchases,
    the listed customers' codes, customers evaluated). Ties go to fewer buy-again slots, then
    the higher threshold: the simpler list wins.
    """
    grid = [Mix(k, t) for k in range(n + 1) for t in (THRESHOLDS if k else (1.0,))]
    evaluated = sum(p[4] for p in parts)
    rates: dict[Mix, float] = {}
    for mix in grid:
        hits = 0
        for buy_again, new_to_you, window, users, _ in parts:
            lists = blend(buy_again, new_to_you, n, mix)
            hits += int(user_outcomes(lists.items, window, users).hit.sum())
        rates[mix] = hits / evaluated if evaluated else 0.0
    best = max(grid, key=lambda m: (rates[m], -m.slots, m.threshold))
    return best, rates
