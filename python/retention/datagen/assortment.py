"""Product structure a recommender can learn: staples, complements, substitutes and launches.

Without it every product a customer buys would be an independent draw by category and
popularity, and nothing but popularity could be learned. With it (all parameters in
``ModelParams`` and ``Category``; ``docs/demo_data.md``, "Product structure"):

* **Staples** (grocery, beauty, some home and sports products) are consumables. A customer has
  0-4 of them, mostly from preferred categories, each with a personal cycle (the product's base
  cycle times a lognormal factor), an adoption time (at sign-up, or later; never before the
  product's launch) and a time they stop using it. The staple runs out every ``cycle`` days
  from adoption; each order placed after it ran out holds it with ``staple_restock_prob``. So a
  customer who orders less often than the cycle buys it at nearly every order, and one who
  orders often buys it about every cycle: "buy again" has a rhythm to learn.
* **Complements**: a share of products has a partner (same category or a related one: books ->
  music, fashion -> beauty, ...). Buying the product puts its partner in the same order or in
  the customer's next order within ``complement_window_days``: "often bought with" is real.
* **Substitutes**: about half the products sit in groups of 2-4 products of one category that
  are bought one *or* the other. Each customer has their own member of every group (a hash of
  the seed, customer and group, drawn by popularity) and a pick that lands in a group goes to
  it with ``substitute_loyalty``: buyers of one member rarely buy another.
* **Launches**: ``launch_share`` of the products launch during the window. Nothing picks them
  before; for ``launch_buzz_days`` afterwards a share of picks goes to the new arrivals of the
  category, so recent popularity differs from all-time popularity.

Every pick (product views, abandoned carts and new items in orders) goes through
:meth:`Assortment.pick`; orders are filled by :meth:`Assortment.baskets`. The structure is
written to the ground truth (``products_truth``, ``customer_staples_truth``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retention.datagen.catalog import Catalog
from retention.datagen.params import CATEGORIES, ModelParams
from retention.datagen.timeline import DAY, Window

_CATEGORY_INDEX = {c.name: i for i, c in enumerate(CATEGORIES)}
_STAPLE_SHARE = np.array([c.staple_share for c in CATEGORIES])
_STAPLE_CYCLE = np.array([c.staple_cycle_days for c in CATEGORIES])
_COMPLEMENT_CATEGORY = np.array(
    [_CATEGORY_INDEX[c.complement_category or c.name] for c in CATEGORIES], dtype=np.int8
)
_PICK_RETRIES = 8  # redraws of a product that has not launched yet (then a fallback)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (uint64 arrays; multiplication wraps, as intended)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_uniform(seed: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) number per (seed, a, b), the same in every block and chunk."""
    z = _splitmix(np.full(np.shape(a), seed, dtype=np.uint64))
    z = _splitmix(z ^ np.asarray(a).astype(np.uint64))
    z = _splitmix(z ^ np.asarray(b).astype(np.uint64))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def _grouped_keys(groups: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members sorted by group, group + cumulative weight share within the group) for
    drawing a member of group g by weight with ``searchsorted(keys, g + u)``."""
    order = np.lexsort((np.arange(groups.size), groups))
    g = groups[order].astype(np.float64)
    w = weights[order]
    cum = np.cumsum(w)
    first = np.concatenate([[True], g[1:] != g[:-1]])
    starts = np.flatnonzero(first)
    run = np.cumsum(first) - 1
    before = np.concatenate([[0.0], cum])[starts][run]
    total = np.add.reduceat(w, starts)[run]
    within = (cum - before) / total
    within[np.append(starts[1:] - 1, g.size - 1)] = 1.0
    return order.astype(np.int32), g + within


@dataclass(frozen=True)
class Shoppers:
    """What the basket builder needs to know about the customers of one block."""

    number: np.ndarray  # int64 global customer number (for the substitute hash)
    pref: np.ndarray  # int8 (n, 3) preferred categories, -1 = unused
    n_pref: np.ndarray  # int number of preferred categories
    signup: np.ndarray  # int64 epoch seconds


@dataclass(frozen=True)
class Staples:
    """Each customer's staples: (n, staples_max) arrays, product -1 = empty slot."""

    product: np.ndarray  # int32
    cycle_days: np.ndarray  # float64
    adopted: np.ndarray  # int64 epoch seconds
    dropped: np.ndarray  # int64 epoch seconds (may lie after the window)


@dataclass(frozen=True)
class Baskets:
    """The distinct products of each order, orders in input order."""

    n_items: np.ndarray  # int32 per order
    first: np.ndarray  # int64 offset of each order's first item
    product: np.ndarray  # int32 per item, grouped by order


def _launches(rng, category: np.ndarray, popularity: np.ndarray, window: Window, model):
    """Launch time per product; the most popular product of each category is there from the
    start (the category's fallback)."""
    n, origin = category.size, window.start_ts
    launched_late = rng.random(n) < model.launch_share
    first_day = origin + 60 * DAY
    last_day = max(window.end_ts - 21 * DAY, first_day + DAY)
    launch = np.where(launched_late, rng.integers(first_day, last_day, n), origin - DAY).astype(
        np.int64
    )
    fallback = np.zeros(len(CATEGORIES), dtype=np.int32)
    for k in range(len(CATEGORIES)):
        members = np.flatnonzero(category == k)
        top = members[np.argmax(popularity[members])]
        launch[top] = origin - DAY
        fallback[k] = top
    return launch, fallback


def _staples(rng, category: np.ndarray, fallback: np.ndarray, model):
    """A share of each staple category (its most popular product always), with a cycle."""
    n = category.size
    is_staple = rng.random(n) < _STAPLE_SHARE[category]
    for k in np.flatnonzero(_STAPLE_SHARE > 0):
        is_staple[fallback[k]] = True
    cycle = _STAPLE_CYCLE[category] * np.exp(model.staple_cycle_sigma * rng.standard_normal(n))
    return is_staple, np.where(is_staple, np.maximum(cycle, 3.0), np.nan)


def _substitute_groups(rng, category: np.ndarray, model) -> np.ndarray:
    """Runs of 2-4 products of a category, in random order; a run starts with probability
    q, so grouped products are 3q / (3q + 1 - q) = the share."""
    share = min(max(model.substitute_share, 0.0), 0.99)
    start_prob = share / (3.0 - 2.0 * share)
    group = np.full(category.size, -1, dtype=np.int32)
    next_group = 0
    for k in range(len(CATEGORIES)):
        members = rng.permutation(np.flatnonzero(category == k))
        i = 0
        while i < members.size:
            size = int(rng.integers(2, 5))
            if rng.random() < start_prob and i + size <= members.size:
                group[members[i : i + size]] = next_group
                next_group += 1
                i += size
            else:
                i += 1
    return group


def _complements(rng, category: np.ndarray, taste: np.ndarray, group: np.ndarray, model):
    """A partner from the same or the related category, not a substitute, drawn by taste
    (popularity flattened: what goes together is not just best sellers); -1 = none."""
    n = category.size
    has_partner = rng.random(n) < model.complement_share
    t_order, t_keys = _grouped_keys(category, taste)
    u = _COMPLEMENT_CATEGORY[category] + rng.random(n)
    partner = t_order[np.minimum(np.searchsorted(t_keys, u, side="left"), n - 1)]
    same_group = (group >= 0) & (group[partner] == group)
    return np.where(has_partner & (partner != np.arange(n)) & ~same_group, partner, -1)


@dataclass(frozen=True)
class Assortment:
    """The catalogue's structure (index = product index of the catalogue)."""

    seed: int
    model: ModelParams
    catalog: Catalog
    launch: np.ndarray  # int64 epoch seconds; before the window start = always available
    is_staple: np.ndarray  # bool
    cycle_days: np.ndarray  # float64 base repurchase cycle of a staple (nan otherwise)
    group: np.ndarray  # int32 substitute group, -1 = none
    complement: np.ndarray  # int32 partner product, -1 = none
    fallback: np.ndarray  # int32 per category: a product available from the start
    launch_order: np.ndarray  # int32 products sorted by (category, launch)
    launch_keys: np.ndarray  # int64 category * 2**40 + seconds since the window start
    launch_weight: np.ndarray  # float64 cumulative popularity along launch_order (from 0)
    staple_products: np.ndarray  # int32 staples sorted by category
    staple_keys: np.ndarray  # float64 category + cumulative taste share
    member_products: np.ndarray  # int32 grouped products sorted by group
    member_keys: np.ndarray  # float64 group + cumulative popularity share
    origin: int  # window start (epoch seconds)

    @classmethod
    def build(
        cls,
        rng: np.random.Generator,
        seed: int,
        catalog: Catalog,
        window: Window,
        model: ModelParams,
    ) -> Assortment:
        n = catalog.size
        category = catalog.category.astype(np.int64)
        popularity = catalog.popularity
        origin = window.start_ts
        launch, fallback = _launches(rng, category, popularity, window, model)
        is_staple, cycle_days = _staples(rng, category, fallback, model)
        group = _substitute_groups(rng, category, model)
        taste = popularity**model.taste_power
        complement = _complements(rng, category, taste, group, model)
        # ---- samplers
        launch_order = np.lexsort((np.arange(n), launch, category)).astype(np.int32)
        launch_keys = category[launch_order] * 2**40 + np.maximum(launch[launch_order] - origin, 0)
        launch_weight = np.concatenate([[0.0], np.cumsum(popularity[launch_order])])
        # a customer's staples are drawn by taste too: regulars differ from customer to customer
        staples = np.flatnonzero(is_staple)
        order, keys = _grouped_keys(category[staples], taste[staples])
        grouped = np.flatnonzero(group >= 0)
        m_order, m_keys = _grouped_keys(group[grouped], popularity[grouped])
        return cls(
            seed=seed,
            model=model,
            catalog=catalog,
            launch=launch,
            is_staple=is_staple,
            cycle_days=cycle_days,
            group=group,
            complement=complement.astype(np.int32),
            fallback=fallback,
            launch_order=launch_order,
            launch_keys=launch_keys.astype(np.int64),
            launch_weight=launch_weight,
            staple_products=staples[order].astype(np.int32),
            staple_keys=keys,
            member_products=grouped[m_order].astype(np.int32),
            member_keys=m_keys,
            origin=origin,
        )

    # ------------------------------------------------------------------ picking products
    def categories(
        self, rng: np.random.Generator, shoppers: Shoppers, customer: np.ndarray
    ) -> np.ndarray:
        """A category per pick: a preferred one with ``preferred_share``, else any by weight."""
        m = self.model
        cat_w = np.array([c.weight for c in CATEGORIES])
        from_pref = rng.random(customer.size) < m.preferred_share
        slot = (rng.random(customer.size) * shoppers.n_pref[customer]).astype(np.int64)
        any_cat = rng.choice(len(CATEGORIES), customer.size, p=cat_w / cat_w.sum())
        return np.where(from_pref, shoppers.pref[customer, slot], any_cat).astype(np.int8)

    def own_member(self, customer_number: np.ndarray, product: np.ndarray) -> np.ndarray:
        """The customer's own member of each product's substitute group (product if none)."""
        group = self.group[product]
        out = product.copy()
        grouped = group >= 0
        if grouped.any():
            u = hash_uniform(self.seed, customer_number[grouped], group[grouped])
            idx = np.searchsorted(self.member_keys, group[grouped] + u, side="left")
            out[grouped] = self.member_products[np.minimum(idx, self.member_products.size - 1)]
        return out

    def pick(
        self,
        rng: np.random.Generator,
        customer_number: np.ndarray,
        categories: np.ndarray,
        when: np.ndarray,
    ) -> np.ndarray:
        """One product per (customer, category, time): by popularity, sometimes a new
        arrival, never one not launched yet, and the customer's own substitute."""
        m, n = self.model, categories.size
        product = self.catalog.pick(rng, categories).astype(np.int32)
        # new arrivals: the category's launches in (when - buzz, when], by popularity
        fresh = np.flatnonzero(rng.random(n) < m.new_arrival_prob)
        if fresh.size:
            cat = categories[fresh].astype(np.int64) * 2**40
            rel = np.maximum(when[fresh] - self.origin, 0)
            lo = np.searchsorted(
                self.launch_keys, cat + rel - int(m.launch_buzz_days * DAY), "right"
            )
            lo = np.maximum(lo, np.searchsorted(self.launch_keys, cat + 1, "left"))
            hi = np.searchsorted(self.launch_keys, cat + rel, "right")
            some = hi > lo
            w_lo, w_hi = self.launch_weight[lo], self.launch_weight[np.maximum(hi, lo)]
            target = w_lo + rng.random(fresh.size) * (w_hi - w_lo)
            pos = np.clip(
                np.searchsorted(self.launch_weight, target, "right") - 1, lo, np.maximum(hi - 1, lo)
            )
            product[fresh[some]] = self.launch_order[pos[some]]
        # not launched yet: draw again, then fall back to the category's oldest best seller
        for _ in range(_PICK_RETRIES):
            early = np.flatnonzero(self.launch[product] > when)
            if early.size == 0:
                break
            product[early] = self.catalog.pick(rng, categories[early])
        early = self.launch[product] > when
        product[early] = self.fallback[categories[early]]
        # substitutes: the customer's own member of the group, once it has launched
        loyal = rng.random(n) < m.substitute_loyalty
        own = self.own_member(customer_number, product)
        use = loyal & (self.launch[own] <= when)
        product[use] = own[use]
        return product

    # ------------------------------------------------------------------ staples
    def staples(self, rng: np.random.Generator, shoppers: Shoppers) -> Staples:
        """Each customer's staples, cycles, adoption and drop times."""
        m, n, k_max = self.model, shoppers.signup.size, self.model.staples_max
        pref = shoppers.pref
        has_staples = (pref >= 0) & (_STAPLE_SHARE[np.maximum(pref, 0)] > 0)
        n_pref_staple = has_staples.sum(axis=1)
        count = np.minimum(
            rng.poisson(m.staples_base + m.staples_per_preferred * n_pref_staple), k_max
        )
        slot_used = np.arange(k_max)[None, :] < count[:, None]
        # category of each slot: a preferred staple category (85%), else any by staple weight
        staple_w = _STAPLE_SHARE * np.array([c.weight for c in CATEGORIES])
        any_cat = rng.choice(len(CATEGORIES), (n, k_max), p=staple_w / staple_w.sum())
        order = np.argsort(~has_staples, axis=1, kind="stable")  # preferred staple cats first
        ranked = np.take_along_axis(pref, order, axis=1)
        pick = (rng.random((n, k_max)) * np.maximum(n_pref_staple, 1)[:, None]).astype(np.int64)
        from_pref = (rng.random((n, k_max)) < 0.85) & (n_pref_staple[:, None] > 0)
        category = np.where(from_pref, np.take_along_axis(ranked, pick, axis=1), any_cat)
        u = category.astype(np.float64) + rng.random((n, k_max))
        idx = np.searchsorted(self.staple_keys, u.ravel(), side="left")
        product = self.staple_products[np.minimum(idx, self.staple_products.size - 1)]
        number = np.repeat(shoppers.number, k_max)
        own = self.own_member(number, product)
        product = np.where(self.is_staple[own], own, product).reshape(n, k_max)
        product = np.where(slot_used, product, -1)
        # one slot per product
        srt = np.sort(product, axis=1)
        dup = np.concatenate([np.zeros((n, 1), bool), srt[:, 1:] == srt[:, :-1]], axis=1)
        product = np.where(dup & (srt >= 0), -1, srt).astype(np.int32)
        safe = np.maximum(product, 0)
        cycle = self.cycle_days[safe] * np.exp(
            m.staple_cycle_sigma * rng.standard_normal((n, k_max))
        )
        at_signup = rng.random((n, k_max)) < m.staple_adopt_at_signup
        delay = np.where(at_signup, 0.0, rng.exponential(m.staple_adoption_days, (n, k_max)))
        adopted = np.maximum(
            shoppers.signup[:, None] + (delay * DAY).astype(np.int64), self.launch[safe]
        )
        dropped = adopted + (rng.exponential(m.staple_lifetime_days, (n, k_max)) * DAY).astype(
            np.int64
        )
        empty = product < 0
        return Staples(
            product=product,
            cycle_days=np.where(empty, np.nan, cycle),
            adopted=np.where(empty, -1, adopted),
            dropped=np.where(empty, -1, dropped),
        )

    # ------------------------------------------------------------------ orders
    def baskets(
        self,
        rng: np.random.Generator,
        shoppers: Shoppers,
        staples: Staples,
        customer: np.ndarray,
        when: np.ndarray,
    ) -> Baskets:
        """The products of every order (orders sorted by customer, then time)."""
        n_o = customer.size
        same_prev = np.concatenate([[False], customer[1:] == customer[:-1]])
        s_order, s_product = self._restocks(rng, staples, customer, when, same_prev)
        # ---- new picks
        n_new = np.minimum(rng.poisson(self.model.items_extra, n_o), self.model.items_max)
        d_order = np.repeat(np.arange(n_o), n_new)
        d_product = self._picks(rng, shoppers, customer[d_order], when[d_order])
        base_order = np.concatenate([s_order, d_order])
        base_product = np.concatenate([s_product, d_product]).astype(np.int32)
        c_order, c_product = self._complements_of(
            rng, shoppers, customer, when, same_prev, base_order, base_product
        )
        # ---- an order with nothing in it gets one new pick
        order = np.concatenate([base_order, c_order])
        empty = np.flatnonzero(np.bincount(order, minlength=n_o) == 0)
        e_product = self._picks(rng, shoppers, customer[empty], when[empty])
        order = np.concatenate([order, empty])
        product = np.concatenate([base_product, c_product, e_product]).astype(np.int64)
        return self._distinct_baskets(order, product, n_o)

    def _restocks(self, rng, staples: Staples, customer, when, same_prev):
        """Staples that ran out since the previous order (cycle points a + j * cycle)."""
        prev = np.where(same_prev, np.concatenate([[0], when[:-1]]), np.iinfo(np.int64).min // 2)
        slot_product = staples.product[customer]
        adopted = staples.adopted[customer]
        cycle = np.where(slot_product >= 0, staples.cycle_days[customer], 1.0) * DAY
        used = (
            (slot_product >= 0)
            & (when[:, None] >= adopted)
            & (when[:, None] < staples.dropped[customer])
        )
        runs_now = np.floor((when[:, None] - adopted) / cycle)
        runs_before = np.where(
            prev[:, None] >= adopted, np.floor((prev[:, None] - adopted) / cycle), -1.0
        )
        restock = (
            used
            & (runs_now > runs_before)
            & (rng.random(slot_product.shape) < self.model.staple_restock_prob)
        )
        s_order, s_slot = np.nonzero(restock)
        return s_order, slot_product[s_order, s_slot]

    def _complements_of(self, rng, shoppers, customer, when, same_prev, base_order, base_product):
        """Complements of an order's staples and new picks: in the same order or the next."""
        m, n_o = self.model, customer.size
        partner = self.complement[base_product]
        has = partner >= 0
        u = rng.random(base_order.size)
        same = has & (u < m.complement_same_order_prob)
        nxt = base_order + 1
        follows = (
            has
            & ~same
            & (u < m.complement_same_order_prob + m.complement_next_order_prob)
            & (nxt < n_o)
        )
        follows[follows] &= same_prev[nxt[follows]] & (
            when[nxt[follows]] - when[base_order[follows]] <= m.complement_window_days * DAY
        )
        c_order = np.concatenate([base_order[same], nxt[follows]])
        c_product = np.concatenate([partner[same], partner[follows]])
        c_product = self.own_member(shoppers.number[customer[c_order]], c_product)
        launched = self.launch[c_product] <= when[c_order]
        return c_order[launched], c_product[launched]

    def _distinct_baskets(self, order: np.ndarray, product: np.ndarray, n_o: int) -> Baskets:
        """Distinct products per order, at most basket_max (rarely reached)."""
        key = np.unique(order * self.catalog.size + product)
        order = key // self.catalog.size
        product = (key % self.catalog.size).astype(np.int32)
        first = np.concatenate([[True], order[1:] != order[:-1]])
        rank = np.arange(order.size) - np.maximum.accumulate(
            np.where(first, np.arange(order.size), 0)
        )
        keep = rank < self.model.basket_max
        order, product = order[keep], product[keep]
        n_items = np.bincount(order, minlength=n_o).astype(np.int32)
        starts = np.concatenate([[0], np.cumsum(n_items)[:-1]]).astype(np.int64)
        return Baskets(n_items=n_items, first=starts, product=product)

    def _picks(
        self, rng: np.random.Generator, shoppers: Shoppers, customer: np.ndarray, when: np.ndarray
    ) -> np.ndarray:
        categories = self.categories(rng, shoppers, customer)
        return self.pick(rng, shoppers.number[customer], categories, when)
