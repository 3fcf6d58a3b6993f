"""From estimated effects of several offers to one decision per customer.

A customer is worth contacting with an offer when the retained value the contact adds
(uplift in P(retained) times the customer's value) exceeds what the offer costs. Two
reasons not to contact are kept apart, because they call for different actions: a
"sleeping dog", whose every offer is expected to *lower* retention (a reminder that
prompts a cancellation), should be left alone even when contacts get cheaper; a
customer merely not worth the cost might be, with a cheaper offer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DO_NOT_DISTURB = "do_not_disturb"
NOT_WORTH_THE_COST = "not_worth_the_cost"
CONTACT = "contact"


def choose_offers(effects: pd.DataFrame, value, costs: dict[str, float]) -> pd.DataFrame:
    """The most profitable offer per row, and whether to send it.

    effects: one column per offer (estimated uplift in P(retained)), one row per
    customer; value: the customer's value if retained (one per row, or a scalar);
    costs: the cost of each offer. Expected incremental profit = uplift * value - cost.
    decision: do_not_disturb when every offer's uplift is < 0; not_worth_the_cost when
    the best profit is <= 0; contact otherwise. Ties between offers go to the first
    column. Same index and row order as `effects`.
    """
    missing = [o for o in effects.columns if o not in costs]
    if missing:
        raise ValueError(f"no cost for offers {missing}; costs has {sorted(costs)}")
    if effects.shape[1] == 0:
        raise ValueError("effects has no offer columns")
    uplift = effects.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(uplift).any():
        raise ValueError("effects contain missing values: score every offer for every row")
    v = np.broadcast_to(np.asarray(value, dtype=float), (len(effects),))
    cost = np.array([costs[o] for o in effects.columns], dtype=float)
    profit = uplift * v[:, None] - cost[None, :]
    best = np.argmax(profit, axis=1)
    rows = np.arange(len(effects))
    decision = np.where(
        uplift.max(axis=1) < 0,
        DO_NOT_DISTURB,
        np.where(profit[rows, best] <= 0, NOT_WORTH_THE_COST, CONTACT),
    )
    return pd.DataFrame(
        {
            "offer_type": np.asarray(effects.columns)[best],
            "uplift": uplift[rows, best],
            "expected_incremental_profit": profit[rows, best],
            "decision": decision,
        },
        index=effects.index,
    )
