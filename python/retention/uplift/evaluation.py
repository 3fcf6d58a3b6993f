"""Honest evaluation of targeting rules on a held-out (later) randomized campaign.

An uplift score cannot be checked row by row: nobody is both contacted and not. What a
randomized campaign does give is comparable groups: among any set of rows chosen by the
features alone, the treated and the control rows differ only by the contact. So every
measure here compares treated with control rows within the rows a rule picks.

- Qini curve: Q(k) = R_t(k) - R_c(k) * N_t(k) / N_c(k) over the k highest scores (R the
  retained count, N the row count of each arm): the retained customers the contact
  added among the treated rows of the top k, with the control group's rate as the
  counterfactual. The random line joins (0, 0) to (1, Q(n)).
- Qini coefficient: area between the curve and the random line, divided by the rows.
- policy_value: an inverse-propensity estimate of the incremental profit of contacting
  exactly the selected rows; unbiased in a randomized campaign.
- bootstrap_policy_values: rules compared on one budget with paired bootstrap intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
# Bootstrap resamples are drawn in blocks of about this many row indices, so memory stays
# bounded on large campaigns.
BOOTSTRAP_BLOCK = 1_000_000


def _campaign(score, treated, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(score, dtype=float)
    t = np.asarray(treated, dtype=float)
    outcome = np.asarray(y, dtype=float)
    if not (s.shape == t.shape == outcome.shape) or s.ndim != 1:
        raise ValueError(
            f"score {s.shape}, treated {t.shape} and y {outcome.shape} must be equal 1-d"
        )
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    if not (np.isin(t, (0, 1)).all() and np.isin(outcome, (0, 1)).all()):
        raise ValueError("treated and y must be 0/1")
    return s, t, outcome


def _per_row(values, n: int, name: str) -> np.ndarray:
    """A scalar or one value per row, as a float array of n values."""
    arr = np.broadcast_to(np.asarray(values, dtype=float), (n,)).copy()
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def _ranking(score: np.ndarray) -> np.ndarray:
    # Stable sort on the negated score: ties keep input order, so results are reproducible.
    return np.argsort(-score, kind="stable")


def _qini_points(score, treated, y) -> np.ndarray:
    """Q(k) for k = 0..n rows targeted, in descending score."""
    s, t, outcome = _campaign(score, treated, y)
    order = _ranking(s)
    t, outcome = t[order], outcome[order]
    n_t = np.concatenate([[0.0], np.cumsum(t)])
    n_c = np.concatenate([[0.0], np.cumsum(1 - t)])
    r_t = np.concatenate([[0.0], np.cumsum(t * outcome)])
    r_c = np.concatenate([[0.0], np.cumsum((1 - t) * outcome)])
    # Before the first control row there is no counterfactual rate: count it as 0.
    scaled_c = np.divide(r_c * n_t, n_c, out=np.zeros_like(r_c), where=n_c > 0)
    return r_t - scaled_c


def qini_curve(score, treated, y, points: int = 101) -> pd.DataFrame:
    """The Qini curve at `points` equally spaced shares of rows targeted, with the random line.

    incremental_retained is Q(k) at k = round(share * n); random_incremental_retained is
    share * Q(n), what targeting the same share at random adds on average.
    """
    q = _qini_points(score, treated, y)
    n = len(q) - 1
    share = np.linspace(0.0, 1.0, points)
    k = np.rint(share * n).astype(int)
    return pd.DataFrame(
        {
            "share_targeted": share,
            "incremental_retained": q[k],
            "random_incremental_retained": share * q[-1],
        }
    )


def qini_coefficient(score, treated, y) -> float:
    """Area between the Qini curve and the random line, over the number of rows.

    The area (trapezoids over share_targeted, at every k = 0..n) is in retained
    customers; dividing by the campaign's rows makes it a rate, comparable across
    campaign sizes: the average, over all targeting depths, of the extra retained
    customers per campaign row that ranking by the score adds over ranking at random.
    0 for a useless score, negative for one that ranks backwards. Q counts the treated
    rows only, so the coefficient scales with the treated share: compare campaigns with
    similar shares.
    """
    q = _qini_points(score, treated, y)
    n = len(q) - 1
    share = np.arange(n + 1) / n
    gap = q - share * q[-1]
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(share)) / n)


def uplift_at_k(score, treated, y, k: float) -> float:
    """Retention rate of treated minus control rows among the top `k` share by score."""
    s, t, outcome = _campaign(score, treated, y)
    if not 0 < k <= 1:
        raise ValueError(f"k is a share of rows in (0, 1], got {k}")
    top = _ranking(s)[: max(1, round(len(s) * k))]
    t_top, y_top = t[top] == 1, outcome[top]
    if not t_top.any() or t_top.all():
        return float("nan")  # one arm absent from the top k: no comparison
    return float(y_top[t_top].mean() - y_top[~t_top].mean())


def _check_share(p: float) -> None:
    if not 0 < p < 1:
        raise ValueError(f"the treated share p must be in (0, 1), got {p}")


def _profit_terms(selected, treated, y, value, cost, p: float, outcome_models=None) -> np.ndarray:
    """Each row's contribution to policy_value (0 for rows not selected)."""
    _check_share(p)
    sel = np.asarray(selected, dtype=bool)
    _, t, outcome = _campaign(np.zeros(sel.shape), treated, y)
    n = len(t)
    v, c = _per_row(value, n, "value"), _per_row(cost, n, "cost")
    if outcome_models is None:
        effect = t * outcome / p - (1 - t) * outcome / (1 - p)
    else:
        mu0 = _per_row(outcome_models[0], n, "mu_control")
        mu1 = _per_row(outcome_models[1], n, "mu_treated")
        effect = mu1 - mu0 + t * (outcome - mu1) / p - (1 - t) * (outcome - mu0) / (1 - p)
    return np.where(sel, v * effect - c, 0.0)


def policy_value(selected, treated, y, value, cost, p: float, outcome_models=None) -> float:
    """Estimate of the incremental profit of contacting the selected rows.

    Inverse propensity: sum over selected i of value_i * (t_i * y_i / p - (1 - t_i) * y_i
    / (1 - p)) - cost_i. With treatment assigned at random with probability p,
    independently of the features, E[t y / p | x] = P(retained | x, contacted) and
    E[(1 - t) y / (1 - p) | x] = P(retained | x, not contacted), so the first sum is
    unbiased for the sum of value_i * tau_i over the selected rows: the retained value the
    contact adds. The cost counts for every selected row (contacting each of them costs
    cost_i), so it is subtracted as is. p must be the assignment probability (the treated
    share); `selected` must be decided from the features (or scores) only, not from t or y.

    outcome_models = (mu_control, mu_treated), per-row predictions of P(retained) without
    and with the contact from models fitted on other data (earlier campaigns), makes it
    the augmented (doubly robust) estimate: value_i * (mu1 - mu0 + t (y - mu1) / p
    - (1 - t) (y - mu0) / (1 - p)). Still unbiased in a randomized campaign whatever the
    models are (the corrections have mean zero), and far less noisy when values are
    uneven: the residuals, not the outcomes, are weighted by 1 / p.
    """
    return float(_profit_terms(selected, treated, y, value, cost, p, outcome_models).sum())


def select_within_budget(score, cost, budget: float, positive_only: bool = True) -> np.ndarray:
    """Rows to contact: the best scores first (ties in input order) while the cost fits.

    The selection is a prefix of the ranking: it stops at the first row whose cost would
    take the total past the budget, so a cheaper row further down never jumps a better
    one (the list stays "the top of the ranking"). With positive_only, rows scoring <= 0
    are never taken: their contact is not expected to help.
    """
    s = np.asarray(score, dtype=float)
    if s.ndim != 1 or np.isnan(s).any():
        raise ValueError("score must be a 1-d array without NaN")
    c = _per_row(cost, len(s), "cost")
    if (c < 0).any():
        raise ValueError("costs must be >= 0")
    order = _ranking(s)
    if positive_only:
        order = order[s[order] > 0]
    within = np.cumsum(c[order]) <= budget
    # The first row that does not fit ends the list (cumulative costs only grow).
    n_taken = len(within) if within.all() else int(np.argmin(within))
    selected = np.zeros(len(s), dtype=bool)
    selected[order[:n_taken]] = True
    return selected


def _bootstrap_sums(terms: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, rules) sums of the per-row terms over paired row resamples."""
    n = terms.shape[0]
    rng = np.random.default_rng(seed)
    block = max(1, BOOTSTRAP_BLOCK // max(n, 1))
    sums = []
    for start in range(0, n_boot, block):
        rows = rng.integers(0, n, size=(min(block, n_boot - start), n))
        sums.append(np.column_stack([col[rows].sum(axis=1) for col in terms.T]))
    return np.concatenate(sums)


def _interval(draws: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_policy_values(
    scores: dict[str, np.ndarray],
    treated,
    y,
    value,
    cost,
    p: float,
    budget: float,
    n_boot: int = 500,
    seed: int = 0,
    reference: str | None = None,
    positive_only: bool | dict[str, bool] = True,
    outcome_models=None,
) -> pd.DataFrame:
    """Each rule's policy value at one budget, with paired bootstrap 95% intervals.

    A rule's selection is decided once, on all rows (it is the list the rule would send);
    the bootstrap then resamples rows with replacement, the same resamples for every
    rule, so the differences to `reference` are paired and their intervals are much
    narrower than the rules' own. The reference's difference with itself is 0; without
    a reference the difference columns are NaN. positive_only (for select_within_budget)
    is one flag for all rules or one per rule name (missing names: True); a score that is
    not an effect, e.g. a churn risk, may rank rows it would contact at <= 0.
    outcome_models: as for policy_value (the augmented estimate).
    """
    if reference is not None and reference not in scores:
        raise ValueError(f"reference {reference!r} is not one of the rules {list(scores)}")
    n = len(np.asarray(treated))
    c = _per_row(cost, n, "cost")
    names = list(scores)
    flags = (
        positive_only if isinstance(positive_only, dict) else dict.fromkeys(names, positive_only)
    )
    selections = [
        select_within_budget(scores[r], c, budget, positive_only=flags.get(r, True)) for r in names
    ]
    terms = np.column_stack(
        [_profit_terms(sel, treated, y, value, c, p, outcome_models) for sel in selections]
    )
    draws = _bootstrap_sums(terms, n_boot, seed)
    ref = names.index(reference) if reference is not None else None
    rows = []
    for j, name in enumerate(names):
        low, high = _interval(draws[:, j])
        row = {
            "rule": name,
            "selected_rows": int(selections[j].sum()),
            "selected_cost": float(c[selections[j]].sum()),
            "policy_value": float(terms[:, j].sum()),
            "ci_low": low,
            "ci_high": high,
        }
        row.update(_difference(terms, draws, j, ref))
        rows.append(row)
    return pd.DataFrame(rows)


def _difference(terms: np.ndarray, draws: np.ndarray, j: int, ref: int | None) -> dict:
    if ref is None:
        nan = float("nan")
        return {"difference_vs_reference": nan, "difference_ci_low": nan, "difference_ci_high": nan}
    low, high = _interval(draws[:, j] - draws[:, ref])
    return {
        "difference_vs_reference": float(terms[:, j].sum() - terms[:, ref].sum()),
        "difference_ci_low": low,
        "difference_ci_high": high,
    }


def oracle_share(true_value_of_selection: float, oracle_value: float) -> float:
    """The share of the best achievable value (the oracle's, which knows the true effects)
    that a selection reaches; NaN when the oracle cannot make a profit."""
    return float(true_value_of_selection / oracle_value) if oracle_value > 0 else float("nan")
