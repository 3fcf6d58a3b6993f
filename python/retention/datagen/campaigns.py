"""Simulated past retention campaigns (``--campaigns N``): randomized contacts whose true
effects differ by customer type, applied to the purchase timeline before orders exist.

Campaign ``k`` runs on a fixed day (:func:`~retention.datagen.params.campaign_dates`, the same
for every block) and contacts each customer at a time of day on it. Per campaign, in date
order and on the timeline as earlier campaigns left it:

* **eligible**: signed up and at least one purchase before the contact; a random
  ``contact_share`` of them is selected, ``control_share`` of those held out (``control``),
  the rest treated, split equally between the offers the campaign tests;
* **type** from the history at the contact: ``lost_cause`` (dead, or no purchase for more
  than 240 days; effect 0), ``sleeping_dog`` (last purchase within 45 days and at least 4
  purchases: a treated one stops buying at the contact with the offer's ``loss_prob``),
  ``persuadable`` (last purchase 60-240 days ago, alive: a treated one buys once more 1-20
  days later with the offer's ``response_prob``, without dying earlier for it),
  ``sure_thing`` (the rest; effect 0);
* **potential outcomes** with common random numbers: one uniform per contact decides the
  response or loss under every offer, so ``retained_if_<offer>`` and ``retained_if_control``
  differ only by the offer's effect;
* the **actual assignment's** effect changes the timeline (control: nothing).

Everything is vectorised over a block and drawn from the block's own campaign stream
(:func:`campaign_rng`), a fixed number of draws per customer and campaign: the data stay
independent of the chunking, and a run without campaigns draws nothing from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np

from retention.datagen.params import (
    OFFER_TYPES,
    OFFERS,
    TYPE_LOST_CAUSE,
    TYPE_PERSUADABLE,
    TYPE_SLEEPING_DOG,
    TYPE_SURE_THING,
    CampaignParams,
    campaign_dates,
    campaign_offers,
)
from retention.datagen.timeline import DAY, HOUR, IntensityGrid, Window, to_epoch

_RESPONSE = np.array([OFFERS[o].response_prob for o in OFFER_TYPES])
_LOSS = np.array([OFFERS[o].loss_prob for o in OFFER_TYPES])
#: ``offer_cost`` per offer index (control rows: 0).
OFFER_COST_CENTS = np.array([OFFERS[o].cost_cents for o in OFFER_TYPES], dtype=np.int64)


def campaign_rng(seed: int, block_index: int) -> np.random.Generator:
    """The campaigns' random stream of one block of customers (nothing else draws from it)."""
    return np.random.default_rng([seed, 5, block_index])


@dataclass(frozen=True)
class CampaignPlan:
    """The run's campaigns: their days and the offers each tests."""

    dates: tuple[dt.date, ...]
    offers: tuple[tuple[int, ...], ...]  # per campaign: indices into OFFER_TYPES
    params: CampaignParams

    @classmethod
    def build(cls, window: Window, campaigns: int, params: CampaignParams) -> CampaignPlan:
        dates = campaign_dates(window.start, window.end, campaigns, params)
        return cls(tuple(dates), tuple(campaign_offers(k) for k in range(campaigns)), params)

    @property
    def n_campaigns(self) -> int:
        return len(self.dates)

    @property
    def horizon_s(self) -> int:
        return self.params.horizon_days * DAY


@dataclass
class Contacts:
    """One row per selected customer and campaign (control rows included)."""

    customer: np.ndarray  # int32, local customer index
    campaign: np.ndarray  # int16, 0-based
    time: np.ndarray  # int64 epoch seconds (contacted_at)
    offer: np.ndarray  # int8 index into OFFER_TYPES, -1 = control
    type: np.ndarray  # int8 index into CUSTOMER_TYPES
    retained_if: np.ndarray  # int8 (n, 1 + offers): control, then each offer; -1 = not tested
    effect: np.ndarray  # float64 (n, offers): expected effect on P(retained)
    retained: np.ndarray  # bool, the outcome under the actual assignment

    @classmethod
    def empty(cls) -> Contacts:
        k = len(OFFER_TYPES)
        return cls(
            np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.int64),
            np.zeros(0, np.int8), np.zeros(0, np.int8), np.zeros((0, 1 + k), np.int8),
            np.zeros((0, k)), np.zeros(0, bool),
        )  # fmt: skip

    def take(self, idx: np.ndarray) -> Contacts:
        return Contacts(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Contacts]) -> Contacts:
        if not parts:
            return Contacts.empty()
        names = [f.name for f in fields(Contacts)]
        return Contacts(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


@dataclass
class CampaignOutcome:
    """The purchase timeline after all campaigns, and what the campaigns did."""

    customer: np.ndarray  # purchases (start times), sorted by customer then time
    time: np.ndarray
    n_dropout: np.ndarray  # per customer: dies right after this purchase (moved by responses)
    driven_away_at: np.ndarray  # per customer: contact that made them stop buying, -1 = none
    contacts: Contacts  # sorted by customer, then time


def _history(customer: np.ndarray, time: np.ndarray, at: np.ndarray, horizon_s: int):
    """Per customer (``at``: one time each): purchases before ``at``, the last of them (-1:
    none), and whether one falls in ``[at, at + horizon)``."""
    n = at.size
    before = time < at[customer]
    n_before = np.bincount(customer[before], minlength=n)
    first = np.searchsorted(customer, np.arange(n))
    padded = np.concatenate([time, [-1]])  # index -1 (no purchase before) reads -1
    last = padded[np.where(n_before > 0, first + n_before - 1, time.size)]
    after = ~before & (time < at[customer] + horizon_s)
    return n_before, last, np.bincount(customer[after], minlength=n) > 0


@dataclass
class _Timeline:
    """The block's purchase timeline as the campaigns so far have left it."""

    customer: np.ndarray  # purchases (start times), sorted by customer then time
    time: np.ndarray
    n_dropout: np.ndarray  # per customer: dies right after this purchase
    driven_away: np.ndarray  # per customer: contact that made them stop buying, -1 = none


@dataclass(frozen=True)
class _CampaignDraws:
    """One campaign's random numbers: a fixed number per customer of the block."""

    at: np.ndarray  # contact time (epoch seconds)
    u_pick: np.ndarray  # selection into the campaign
    u_arm: np.ndarray  # control or offer
    u_effect: np.ndarray  # response or loss, common to every offer
    extra_at: np.ndarray  # time of the extra purchase of a customer who responds


def _draw_campaign(
    rng: np.random.Generator, params: CampaignParams, grid: IntensityGrid, day: dt.date, n: int
) -> _CampaignDraws:
    """Draw one campaign's numbers for every customer, eligible or not, in a fixed order,
    so the data stay independent of the chunking."""
    p = params
    at = to_epoch(day) + p.send_hour * HOUR
    at = at + (rng.random(n) * p.send_spread_hours * HOUR).astype(np.int64)
    u_pick, u_arm, u_effect = rng.random(n), rng.random(n), rng.random(n)
    extra_at = grid.sample(
        rng, at + int(p.response_min_days * DAY), at + int(p.response_max_days * DAY)
    )
    return _CampaignDraws(at, u_pick, u_arm, u_effect, extra_at)


def _customer_types(
    p: CampaignParams, at: np.ndarray, n_before: np.ndarray, last: np.ndarray, dead: np.ndarray
) -> np.ndarray:
    """Each customer's type at the contact, from their history: it decides what an offer
    can do to them."""
    n = at.size
    days_since = (at - last) / DAY
    kind = np.full(n, TYPE_SURE_THING, dtype=np.int8)
    lapsing = (days_since >= p.persuadable_min_days) & (days_since <= p.lost_after_days)
    kind[lapsing] = TYPE_PERSUADABLE
    kind[(days_since <= p.sleeping_recent_days) & (n_before >= p.sleeping_min_orders)] = (
        TYPE_SLEEPING_DOG
    )
    kind[dead | (days_since > p.lost_after_days)] = TYPE_LOST_CAUSE
    return kind


def _potential_outcomes(
    kind: np.ndarray, u_effect: np.ndarray, retained: np.ndarray, offers: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every offer's response and loss per customer, and ``retained_if`` (control, then each
    offer; -1 = not tested), all from one uniform so that they differ only by the offer."""
    n_offers = len(OFFER_TYPES)
    respond = (kind == TYPE_PERSUADABLE)[:, None] & (u_effect[:, None] < _RESPONSE[None, :])
    lose = (kind == TYPE_SLEEPING_DOG)[:, None] & (u_effect[:, None] < _LOSS[None, :])
    tested = np.zeros(n_offers, dtype=bool)
    tested[list(offers)] = True
    outcome = np.where(lose, 0, np.where(respond, 1, retained[:, None])).astype(np.int8)
    retained_if = np.concatenate(
        [retained[:, None].astype(np.int8), np.where(tested[None, :], outcome, -1)], axis=1
    )
    return respond, lose, retained_if


def _true_effects(
    kind: np.ndarray, lam: np.ndarray, grid: IntensityGrid, at: np.ndarray, horizon_s: int
) -> np.ndarray:
    """Every offer's expected effect on P(an order within the horizon) per customer, the
    ground truth an uplift model should recover (see :func:`apply_campaigns`)."""
    p0 = 1.0 - np.exp(-lam * (grid.cumulative(at + horizon_s) - grid.cumulative(at)))
    return np.where(
        (kind == TYPE_PERSUADABLE)[:, None],
        _RESPONSE[None, :] * (1.0 - p0)[:, None],
        np.where((kind == TYPE_SLEEPING_DOG)[:, None], -_LOSS[None, :] * p0[:, None], 0.0),
    )


def _assign_arms(u_arm: np.ndarray, offers: tuple[int, ...], control_share: float) -> np.ndarray:
    """The randomized arm per customer: control (-1) with ``control_share``, otherwise one of
    the campaign's offers in equal shares."""
    offers = np.asarray(offers)
    slot = ((u_arm - control_share) / (1.0 - control_share) * offers.size).astype(int)
    return np.where(u_arm < control_share, -1, offers[np.clip(slot, 0, offers.size - 1)])


def _apply_assignment(
    state: _Timeline, at: np.ndarray, extra_at: np.ndarray, responds: np.ndarray, leaves: np.ndarray
) -> None:
    """Change the timeline by the actual assignment's effect: a customer driven away buys
    nothing from the contact on, one who responds buys once more (and dies one later)."""
    customer, time = state.customer, state.time
    keep = ~(leaves[customer] & (time >= at[customer]))
    state.driven_away[leaves] = at[leaves]
    state.n_dropout[responds] += 1
    who = np.flatnonzero(responds).astype(customer.dtype)
    customer = np.concatenate([customer[keep], who])
    time = np.concatenate([time[keep], extra_at[who]])
    by_time = np.lexsort((time, customer))
    state.customer, state.time = customer[by_time], time[by_time]


def _run_campaign(
    rng: np.random.Generator,
    plan: CampaignPlan,
    k: int,
    grid: IntensityGrid,
    signup: np.ndarray,
    lam: np.ndarray,
    state: _Timeline,
) -> Contacts:
    """Run campaign ``k`` on the timeline as earlier campaigns left it: select, type and
    assign its contacts, record them, and apply the assigned arms' effects to ``state``."""
    p = plan.params
    n = signup.size
    draws = _draw_campaign(rng, p, grid, plan.dates[k], n)
    at = draws.at
    n_before, last, retained = _history(state.customer, state.time, at, plan.horizon_s)
    dead = (n_before >= state.n_dropout) | (state.driven_away >= 0)
    picked = np.flatnonzero((signup < at) & (n_before >= 1) & (draws.u_pick < p.contact_share))
    kind = _customer_types(p, at, n_before, last, dead)
    respond, lose, retained_if = _potential_outcomes(kind, draws.u_effect, retained, plan.offers[k])
    effect = _true_effects(kind, lam, grid, at, plan.horizon_s)
    arm = _assign_arms(draws.u_arm, plan.offers[k], p.control_share)
    col = np.maximum(arm, 0)
    treated = np.zeros(n, dtype=bool)
    treated[picked] = arm[picked] >= 0
    responds = treated & respond[np.arange(n), col]
    leaves = treated & lose[np.arange(n), col]
    contacts = Contacts(
        customer=picked.astype(np.int32),
        campaign=np.full(picked.size, k, dtype=np.int16),
        time=at[picked],
        offer=arm[picked].astype(np.int8),
        type=kind[picked],
        retained_if=retained_if[picked],
        effect=effect[picked],
        retained=retained_if[picked, arm[picked] + 1] == 1,
    )
    _apply_assignment(state, at, draws.extra_at, responds, leaves)
    return contacts


def apply_campaigns(
    rng: np.random.Generator,
    plan: CampaignPlan,
    grid: IntensityGrid,
    signup: np.ndarray,
    lam: np.ndarray,
    n_dropout: np.ndarray,
    customer: np.ndarray,
    time: np.ndarray,
) -> CampaignOutcome:
    """Run the campaigns on a block's purchase timeline (start times, sorted by customer then
    time, already cut at each customer's dropout purchase ``n_dropout``).

    ``true_effect`` is the expected effect on P(an order within the horizon) given the
    customer's latent state at the contact: ``+r (1 - P0)`` for a persuadable, ``-s P0`` for
    a sleeping dog, 0 otherwise, where ``P0 = 1 - exp(-lambda (G(t + 30 d) - G(t)))`` is the
    exact probability that a customer alive at ``t`` buys within the horizon without the
    campaign (the seasonal purchase intensity ``G`` of the simulation; dropping out only
    happens at a purchase, so the first purchase in the window is not affected by it).
    """
    driven_away = np.full(signup.size, -1, dtype=np.int64)
    state = _Timeline(customer, time, n_dropout.copy(), driven_away)
    parts = [_run_campaign(rng, plan, k, grid, signup, lam, state) for k in range(plan.n_campaigns)]
    contacts = Contacts.concat(parts)
    contacts = contacts.take(np.lexsort((contacts.time, contacts.customer)))
    return CampaignOutcome(state.customer, state.time, state.n_dropout, driven_away, contacts)


def driven_away_deaths(
    death: np.ndarray, driven_away_at: np.ndarray, purchase_customer: np.ndarray, purchase_end
) -> np.ndarray:
    """Death times with the customers a contact drove away dying at the contact (or at the
    end of a purchase session still running then)."""
    gone = driven_away_at >= 0
    if not gone.any():
        return death
    last_end = np.full(death.size, -1, dtype=np.int64)
    np.maximum.at(last_end, purchase_customer, purchase_end)
    death = death.copy()
    death[gone] = np.maximum(driven_away_at[gone], last_end[gone])
    return death


def settle_outcomes(
    contacts: Contacts, order_customer: np.ndarray, order_time: np.ndarray, horizon_s: int
) -> Contacts:
    """Measure the realized outcome on the orders as written: any order with ``ordered_at``
    in ``[contacted_at, + horizon)``. The simulation decides outcomes on purchase start
    times; an order whose session straddles the contact or the horizon's end (minutes
    long) can differ, and then the realized value wins (``retained`` and the assigned arm's
    ``retained_if``)."""
    shift = np.int64(1) << np.int64(34)  # epoch seconds stay below 2**34
    keys = np.sort(order_customer.astype(np.int64) * shift + order_time)
    base = contacts.customer.astype(np.int64) * shift + contacts.time
    found = np.searchsorted(keys, base + horizon_s) - np.searchsorted(keys, base)
    realized = found > 0
    retained_if = contacts.retained_if.copy()
    retained_if[np.arange(realized.size), contacts.offer.astype(np.int64) + 1] = realized
    return Contacts(
        customer=contacts.customer,
        campaign=contacts.campaign,
        time=contacts.time,
        offer=contacts.offer,
        type=contacts.type,
        retained_if=retained_if,
        effect=contacts.effect,
        retained=realized,
    )
