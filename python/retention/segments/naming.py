"""Human names and one-line descriptions for segments, from their profiles.

A segment's profile is where its centroid (in original units) falls in the
population of the fit sample, as a mid-rank percentile per role: 0.9 on
frequency means the centroid orders more than 90% of customers. Recency is
turned into freshness (1 = most recent) so "high" is good on every axis.

Recency also gets an absolute band, in multiples of the churn horizon H:
active (last order within H), lapsing (within 2H), lapsed (within 4H), gone.
Percentiles alone mislead when most customers are long gone: on CDNOW, 75% of
customers have not ordered for over a year, so a segment last seen 180 days
ago sat in the top quarter on recency and was called "champions".

Names come from a transparent rule table (NAME_RULES; docs/segments.md has the
same table), in a cascade that keeps them unique: for each rule in order, of
the segments not yet named that satisfy it, the one ranking highest on the
rule's key takes the name, and the others move on to the next rule they
satisfy. A segment left without a name (every name it qualifies for is taken)
gets its first name with a qualifier for its most distinctive trait
("lost (big baskets)"), then a number if that is taken too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def midrank_percentile(sorted_values: np.ndarray, value: float, tolerance: float = 0.0) -> float:
    """Share of the population below `value`, counting ties as half. Values
    within `tolerance` count as ties: a centroid at -0.004 on a feature that is
    0 for 80% of customers sits in the middle of them, not below them all (the
    caller uses a tenth of a standard deviation)."""
    n = len(sorted_values)
    if n == 0 or np.isnan(value):
        return 0.5
    below = np.searchsorted(sorted_values, value - tolerance, side="left")
    at_or_below = np.searchsorted(sorted_values, value + tolerance, side="right")
    return float((below + 0.5 * (at_or_below - below)) / n)


def level(percentiles: dict[str, float], role: str) -> float | None:
    """A role's percentile with "high is good" orientation (recency -> freshness)."""
    value = percentiles.get(role)
    if value is None or not np.isfinite(value):
        return None
    return 1.0 - value if role == "recency" else value


@dataclass(frozen=True)
class Profile:
    """What the naming rules read about one centroid."""

    percentiles: dict[str, float]  # role -> population percentile of the centroid
    recency_days: float  # the centroid's days since the last order
    horizon_days: float  # the churn horizon, the unit of the recency bands

    def level(self, role: str) -> float | None:
        return level(self.percentiles, role)

    @property
    def band(self) -> str:
        days, horizon = self.recency_days, self.horizon_days
        if days <= horizon:
            return "active"
        if days <= 2 * horizon:
            return "lapsing"
        if days <= 4 * horizon:
            return "lapsed"
        return "gone"


def _at_least(role: str, threshold: float) -> Callable[[Profile], bool]:
    def test(profile: Profile) -> bool:
        value = profile.level(role)
        return value is not None and value >= threshold

    return test


def _below(role: str, threshold: float) -> Callable[[Profile], bool]:
    def test(profile: Profile) -> bool:
        value = profile.level(role)
        return value is not None and value < threshold

    return test


def _in(*bands: str) -> Callable[[Profile], bool]:
    return lambda profile: profile.band in bands


def _all(*tests: Callable[[Profile], bool]) -> Callable[[Profile], bool]:
    return lambda profile: all(t(profile) for t in tests)


def _key(*roles: str, invert: bool = False) -> Callable[[Profile], float]:
    def rank(profile: Profile) -> float:
        total = sum(profile.level(role) or 0.0 for role in roles)
        return -total if invert else total

    return rank


@dataclass(frozen=True)
class NameRule:
    name: str
    condition: str  # the rule in words (run record, docs)
    ranking: str  # who keeps the name when several segments satisfy the rule
    test: Callable[[Profile], bool]
    rank: Callable[[Profile], float]


# Levels are population percentiles of the centroid (freshness for recency);
# bands are recency in churn horizons H (active <= H < lapsing <= 2H < lapsed <= 4H < gone).
NAME_RULES: tuple[NameRule, ...] = (
    NameRule(
        "champions",
        "active, freshness >= 0.6 and frequency >= 0.7",
        "freshness + frequency",
        _all(_in("active"), _at_least("recency", 0.6), _at_least("frequency", 0.7)),
        _key("recency", "frequency"),
    ),
    NameRule(
        "loyal",
        "active and frequency >= 0.6",
        "frequency",
        _all(_in("active"), _at_least("frequency", 0.6)),
        _key("frequency"),
    ),
    NameRule(
        "new",
        "active and tenure < 0.3",
        "shortest tenure",
        _all(_in("active"), _below("tenure", 0.3)),
        _key("tenure", invert=True),
    ),
    NameRule(
        "big spenders",
        "active and order value >= 0.75",
        "order value",
        _all(_in("active"), _at_least("monetary", 0.75)),
        _key("monetary"),
    ),
    NameRule(
        "bargain hunters",
        "active and discount use >= 0.75",
        "discount use",
        _all(_in("active"), _at_least("discount", 0.75)),
        _key("discount"),
    ),
    NameRule("promising", "active", "freshness", _in("active"), _key("recency")),
    NameRule(
        "at risk",
        "lapsing or lapsed, and frequency >= 0.6",
        "frequency + order value",
        _all(_in("lapsing", "lapsed"), _at_least("frequency", 0.6)),
        _key("frequency", "monetary"),
    ),
    NameRule("needs attention", "lapsing", "freshness", _in("lapsing"), _key("recency")),
    NameRule("hibernating", "lapsed", "freshness", _in("lapsed"), _key("recency")),
    NameRule("lost", "gone", "staleness", _in("gone"), _key("recency", invert=True)),
)

# A qualifier says on which trait a segment is furthest from the population's middle.
QUALIFIERS: dict[str, tuple[str, str]] = {
    "recency": ("recent", "lapsed"),
    "frequency": ("frequent", "infrequent"),
    "monetary": ("big baskets", "small baskets"),
    "tenure": ("long-standing", "newer"),
    "trend": ("rising", "slowing"),
    "engagement": ("engaged", "disengaged"),
    "discount": ("discount-driven", "full-price"),
}


def eligible_names(profile: Profile) -> list[str]:
    """Every rule name this profile satisfies, in rule order (never empty: the
    bands cover every recency)."""
    return [rule.name for rule in NAME_RULES if rule.test(profile)]


def rule_name(profile: Profile) -> str:
    """The name this profile would get alone (the first rule it satisfies)."""
    return eligible_names(profile)[0]


def _qualifier_options(profile: Profile) -> list[tuple[float, int, str]]:
    """(distance from the middle, trait order, qualifier) per trait, most distinctive first."""
    options = []
    for order, (role, (above, below)) in enumerate(QUALIFIERS.items()):
        value = profile.level(role)
        if value is not None:
            options.append((abs(value - 0.5), order, above if value >= 0.5 else below))
    return sorted(options, key=lambda option: (-option[0], option[1]))


def assign_names(profiles: list[Profile], reserved: set[str] | None = None) -> list[str]:
    """Unique names by the cascade described in the module docstring. `reserved`
    names (kept by segments matched to the previous run) are already taken.
    Ties on a rule's key go to the lower index, so the result is deterministic."""
    taken = set(reserved or ())
    names: list[str | None] = [None] * len(profiles)
    for rule in NAME_RULES:
        if rule.name in taken:
            continue
        contenders = [i for i, p in enumerate(profiles) if names[i] is None and rule.test(p)]
        if contenders:
            winner = max(contenders, key=lambda i: (rule.rank(profiles[i]), -i))
            names[winner] = rule.name
            taken.add(rule.name)
    # Left over: first name plus a qualifier. The most distinctive trait over
    # all leftovers claims its qualifier first; numbers are the last resort.
    candidates = sorted(
        (-gap, order, i, f"{rule_name(profiles[i])} ({word})")
        for i in range(len(profiles))
        if names[i] is None
        for gap, order, word in _qualifier_options(profiles[i])
    )
    for _, _, i, name in candidates:
        if names[i] is None and name not in taken:
            names[i] = name
            taken.add(name)
    for i, profile in enumerate(profiles):
        if names[i] is None:
            base, number = rule_name(profile), 2
            while f"{base} {number}" in taken:
                number += 1
            names[i] = f"{base} {number}"
            taken.add(names[i])
    return names  # type: ignore[return-value]


# ---------- descriptions


def _ratio(value: float, reference: float) -> str:
    if not np.isfinite(value) or not np.isfinite(reference) or reference <= 0:
        return "n/a"
    return f"{value / reference:.1f}×"


def _phrase(role: str, mean: float, population_mean: float) -> str | None:
    if not np.isfinite(mean):
        return None
    if role == "frequency":
        return f"{_ratio(mean, population_mean)} the average order count ({mean:.1f} orders)"
    if role == "monetary":
        return f"{_ratio(mean, population_mean)} the average order value"
    if role == "tenure":
        return f"first ordered {mean:.0f} days ago on average (all: {population_mean:.0f})"
    if role == "engagement":
        return f"{_ratio(mean, population_mean)} the average sessions in 90 days"
    if role == "discount":
        return f"{mean:.0%} of orders discounted (all: {population_mean:.0%})"
    if role == "trend":
        if abs(mean) < 0.1:  # no change worth a word
            return None
        return f"ordering {'more' if mean > 0 else 'less'} than in the quarter before"
    return None


def describe(
    percentiles: dict[str, float],
    means: dict[str, float],
    population_means: dict[str, float],
    extra_phrases: int = 2,
) -> str:
    """Recency always, then the `extra_phrases` roles where the centroid sits
    furthest from the population middle."""
    parts = []
    if "recency" in means and np.isfinite(means["recency"]):
        parts.append(
            f"ordered {means['recency']:.0f} days ago on average "
            f"(all customers: {population_means['recency']:.0f})"
        )
    others = sorted(
        (role for role in percentiles if role != "recency" and role in means),
        key=lambda role: (-abs(percentiles[role] - 0.5), list(QUALIFIERS).index(role)),
    )
    extras = 0
    for role in others:
        phrase = _phrase(role, means[role], population_means.get(role, float("nan")))
        if phrase and extras < extra_phrases:
            parts.append(phrase)
            extras += 1
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]
