"""From past campaigns to validated uplift scores: what the dbt Python models call.

The rows are the experiment spine (int_contacts_outcomes: one row per contact or control
row with its outcome in the window) next to the customer's point-in-time features at the
contact day (int_contacts_featurized, the churn spine's feature code). Campaigns are
randomized, so within one campaign treated and control rows are comparable.

Validation is out of time: the learners and the risk baseline fit on every campaign
before the latest mature one and are judged on that latest campaign only, by the rule a
user would run: contact the best-scoring customers within the budget. The scores of the
current customers come from a refit on every mature campaign (`fit_for_scoring`).

Value of a retained customer at a past contact: the customer's CLV at that day is not
known (the BTYD fits are at as_of_date), so the evaluation uses a plain proxy from the
features: average order value x orders in the year before the contact (at least one
order). The action list itself uses the CLV of the build (fct_retention_actions).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from retention.uplift.evaluation import (
    bootstrap_policy_values,
    qini_coefficient,
    uplift_at_k,
)
from retention.uplift.learners import (
    HGB_PARAMS,
    MIN_ARM_ROWS,
    UPLIFT_LEARNERS,
    make_uplift_learner,
)

log = logging.getLogger(__name__)

#: Columns of int_contacts_outcomes and int_contacts_featurized that are not features.
NOT_FEATURES = {
    "contact_id", "customer_id", "campaign_id", "contacted_at", "contacted_date", "assignment",
    "is_treatment", "offer_type", "offer_cost", "channel", "orders_before_contact",
    "days_since_last_order_at_contact", "is_outcome_mature", "orders_in_window",
    "is_retained", "revenue_in_window", "cutoff_date",
}  # fmt: skip
BASELINE_RULES = ("risk", "risk_x_value", "random")


class NotEnoughExperimentsError(RuntimeError):
    """Too few campaigns or rows to fit and validate an uplift model."""


@dataclass(frozen=True)
class UpliftSettings:
    budget: float = 1000.0
    assumed_uplift: float = 0.10  # today's rule: P(churn) x value x assumed uplift - cost
    seed: int = 42
    bootstrap_rounds: int = 500
    learners: tuple[str, ...] = UPLIFT_LEARNERS

    @classmethod
    def from_config(cls, config: dict) -> UpliftSettings:
        learners = str(config.get("learners") or ",".join(UPLIFT_LEARNERS))
        return cls(
            budget=float(config.get("budget", cls.budget)),
            assumed_uplift=float(config.get("assumed_uplift", cls.assumed_uplift)),
            seed=int(config.get("seed", cls.seed)),
            bootstrap_rounds=int(config.get("bootstrap_rounds", cls.bootstrap_rounds)),
            learners=tuple(name.strip() for name in learners.split(",") if name.strip()),
        )


def experiment_frame(outcomes: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Mature contact rows with the features at their contact day and a value proxy."""
    rows = outcomes[outcomes["is_outcome_mature"].astype(bool)].copy()
    rows["contacted_date"] = pd.to_datetime(rows["contacted_date"])
    features = features.copy()
    features["cutoff_date"] = pd.to_datetime(features["cutoff_date"])
    frame = rows.merge(
        features,
        left_on=["customer_id", "contacted_date"],
        right_on=["customer_id", "cutoff_date"],
        how="left",
        validate="many_to_one",
    )
    frame["is_treatment"] = frame["is_treatment"].astype(bool)
    frame["is_retained"] = frame["is_retained"].astype(int)
    frame["offer_cost"] = frame["offer_cost"].astype(float)
    frame["value"] = value_proxy(frame)
    return frame.sort_values(["contacted_date", "contact_id"], kind="stable").reset_index(drop=True)


def value_proxy(frame: pd.DataFrame) -> np.ndarray:
    """Average order value x orders in the 365 days before (at least 1); customers without
    an amount get the mean of those with one (orders without amounts)."""
    aov = pd.to_numeric(frame.get("avg_order_value"), errors="coerce")
    orders = pd.to_numeric(frame.get("orders_365d"), errors="coerce").fillna(0).clip(lower=1)
    value = (aov * orders).astype(float)
    fallback = value.mean() if value.notna().any() else 1.0
    return value.fillna(fallback).to_numpy()


def feature_names(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c not in NOT_FEATURES
        and c != "value"
        and (pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool)
        and frame[c].nunique(dropna=False) > 1
    ]


def matrix(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    out = frame.reindex(columns=features).copy()
    for column in out.columns:
        out[column] = pd.to_numeric(out[column].astype("float64"), errors="coerce")
    return out


def campaign_order(frame: pd.DataFrame) -> list[str]:
    """Campaigns by their first contact day (then id)."""
    first = frame.groupby("campaign_id")["contacted_date"].min().reset_index()
    return first.sort_values(["contacted_date", "campaign_id"])["campaign_id"].tolist()


def offers_of(frame: pd.DataFrame) -> dict[str, float]:
    """Each offer that was tested, with its mean cost."""
    treated = frame[frame["is_treatment"]]
    return treated.groupby("offer_type")["offer_cost"].mean().sort_index().to_dict()


def arm(frame: pd.DataFrame, offer: str) -> pd.DataFrame:
    """The rows that compare one offer with the control groups of the same campaigns."""
    campaigns = frame.loc[frame["is_treatment"] & (frame["offer_type"] == offer), "campaign_id"]
    keep = frame["campaign_id"].isin(set(campaigns)) & (
        ~frame["is_treatment"] | (frame["offer_type"] == offer)
    )
    return frame[keep]


def _enough(rows: pd.DataFrame) -> bool:
    """Each arm has MIN_ARM_ROWS rows and both outcomes (what the learners need)."""
    treated = rows["is_treatment"].to_numpy()
    retained = rows["is_retained"].to_numpy()
    return all(
        arm_rows.size >= MIN_ARM_ROWS and np.unique(arm_rows).size == 2
        for arm_rows in (retained[treated], retained[~treated])
    )


def fit_outcome(rows: pd.DataFrame, features: list[str], seed: int, contacted: bool):
    """P(retained in the window) with (contacted) or without a contact, from the rows of that
    arm (the same small-sample trees as the uplift learners)."""
    arm_rows = rows[rows["is_treatment"] == contacted]
    model = HistGradientBoostingClassifier(**HGB_PARAMS, random_state=seed)
    model.fit(matrix(arm_rows, features), arm_rows["is_retained"].to_numpy())
    return model


def validation_predictions(frame: pd.DataFrame, settings: UpliftSettings) -> pd.DataFrame:
    """Every rule's score of each row of the latest mature campaign, from fits on the
    campaigns before it. Long format: one row per held-out row x offer x rule."""
    campaigns = campaign_order(frame)
    if len(campaigns) < 2:
        raise NotEnoughExperimentsError(
            f"uplift validation needs at least 2 campaigns with mature outcomes; found "
            f"{len(campaigns)}. The action list keeps the assumed uplift (uplift_source = "
            "'assumed') until a second campaign's outcome window has ended."
        )
    held_out = campaigns[-1]
    features = feature_names(frame)
    parts = []
    for offer, cost in offers_of(frame).items():
        rows = arm(frame, offer)
        train = rows[rows["campaign_id"] != held_out]
        test = rows[rows["campaign_id"] == held_out]
        if not (_enough(train) and _enough(test)):
            log.info("uplift: offer %s has too few rows to validate; skipped", offer)
            continue
        scored = held_out_scores(train, test, features, settings)
        parts.append(scored.assign(offer_type=offer, offer_cost=cost))
    if not parts:
        raise NotEnoughExperimentsError(
            f"no offer has {MIN_ARM_ROWS}+ treated and control rows, with both outcomes, in "
            f"the campaigns before {held_out} and in {held_out}"
        )
    return pd.concat(parts, ignore_index=True)


def held_out_scores(
    train: pd.DataFrame, test: pd.DataFrame, features: list[str], settings: UpliftSettings
) -> pd.DataFrame:
    """One offer's held-out rows scored by every rule fitted on `train` (long format)."""
    x_train, x_test = matrix(train, features), matrix(test, features)
    scores: dict[str, np.ndarray] = {}
    for name in settings.learners:
        learner = make_uplift_learner(name, settings.seed)
        learner.fit(x_train, train["is_treatment"].to_numpy(), train["is_retained"].to_numpy())
        scores[name] = learner.effect(x_test)
    # without a contact: the risk baseline is 1 - this; both also serve the augmented
    # (doubly robust) profit estimate of every rule's list (evaluation.policy_value)
    mu_control = fit_outcome(train, features, settings.seed, False).predict_proba(x_test)[:, 1]
    mu_treated = fit_outcome(train, features, settings.seed, True).predict_proba(x_test)[:, 1]
    value = test["value"].to_numpy()
    scores["risk"] = 1 - mu_control
    scores["risk_x_value"] = scores["risk"] * value * settings.assumed_uplift
    scores["random"] = np.random.default_rng(settings.seed).random(len(test))
    common = {
        "contact_id": test["contact_id"].to_numpy(),
        "campaign_id": test["campaign_id"].to_numpy(),
        "is_treatment": test["is_treatment"].to_numpy(),
        "is_retained": test["is_retained"].to_numpy(),
        "value": value,
        "mu_control": mu_control,
        "mu_treated": mu_treated,
        "training_rows": len(train),
        "training_campaigns": len(set(train["campaign_id"])),
    }
    return pd.concat(
        [
            pd.DataFrame(
                {
                    **common,
                    "rule": rule,
                    "rule_kind": "baseline" if rule in BASELINE_RULES else "uplift_model",
                    "score": score,
                }
            )
            for rule, score in scores.items()
        ],
        ignore_index=True,
    )


def targeting_score(rule: str, rows: pd.DataFrame) -> np.ndarray:
    """What a rule ranks by at the budget: expected incremental profit for the uplift models
    (uplift x value - cost), the score itself for risk (contact the riskiest), and today's
    rule's expected value net of cost for risk x value."""
    score = rows["score"].to_numpy()
    cost = rows["offer_cost"].to_numpy()
    if rule in ("risk", "random"):
        return score
    if rule == "risk_x_value":
        return score - cost
    return score * rows["value"].to_numpy() - cost


def evaluate_rules(predictions: pd.DataFrame, settings: UpliftSettings) -> pd.DataFrame:
    """Per offer and rule on the held-out campaign: Qini coefficient, uplift in the top 10%
    and 30%, and the estimated incremental profit of the rule's list at the budget with a
    paired bootstrap interval, and its difference with the best baseline."""
    frames = []
    for offer, rows in predictions.groupby("offer_type", sort=True):
        rules = list(dict.fromkeys(rows["rule"]))
        first = rows[rows["rule"] == rules[0]]
        treated = first["is_treatment"].to_numpy()
        retained = first["is_retained"].to_numpy()
        value = first["value"].to_numpy()
        cost = first["offer_cost"].to_numpy()
        share = float(treated.mean())
        models = (first["mu_control"].to_numpy(), first["mu_treated"].to_numpy())
        by_rule = {r: rows[rows["rule"] == r] for r in rules}
        targeting = {r: targeting_score(r, by_rule[r]) for r in rules}
        positive_only = {r: r not in ("risk", "random") for r in rules}
        values = bootstrap_policy_values(
            targeting, treated, retained, value, cost, share, settings.budget,
            n_boot=settings.bootstrap_rounds, seed=settings.seed, reference="random",
            positive_only=positive_only, outcome_models=models,
        )  # fmt: skip
        values = values.set_index("rule")
        baseline_values = values.loc[[r for r in rules if r in BASELINE_RULES], "policy_value"]
        best_baseline = str(baseline_values.idxmax())
        paired = bootstrap_policy_values(
            targeting, treated, retained, value, cost, share, settings.budget,
            n_boot=settings.bootstrap_rounds, seed=settings.seed, reference=best_baseline,
            positive_only=positive_only, outcome_models=models,
        ).set_index("rule")  # fmt: skip
        for rule in rules:
            score = by_rule[rule]["score"].to_numpy()
            frames.append(
                {
                    "campaign_id": first["campaign_id"].iloc[0],
                    "offer_type": offer,
                    "rule": rule,
                    "rule_kind": first_value(by_rule[rule], "rule_kind"),
                    "evaluation_rows": len(first),
                    "training_rows": int(first["training_rows"].iloc[0]),
                    "training_campaigns": int(first["training_campaigns"].iloc[0]),
                    "qini_coefficient": qini_coefficient(score, treated, retained),
                    "uplift_top_10pct": uplift_at_k(score, treated, retained, 0.1),
                    "uplift_top_30pct": uplift_at_k(score, treated, retained, 0.3),
                    "budget": settings.budget,
                    "selected_rows": int(values.at[rule, "selected_rows"]),
                    "selected_cost": float(values.at[rule, "selected_cost"]),
                    "incremental_profit": float(values.at[rule, "policy_value"]),
                    "incremental_profit_ci_low": float(values.at[rule, "ci_low"]),
                    "incremental_profit_ci_high": float(values.at[rule, "ci_high"]),
                    "best_baseline": best_baseline,
                    "difference_vs_best_baseline": _or_zero(
                        paired, rule, "difference_vs_reference"
                    ),
                    "difference_ci_low": _or_zero(paired, rule, "difference_ci_low"),
                    "difference_ci_high": _or_zero(paired, rule, "difference_ci_high"),
                }
            )
    return pd.DataFrame(frames)


def first_value(rows: pd.DataFrame, column: str):
    return rows[column].iloc[0]


def _or_zero(table: pd.DataFrame, rule: str, column: str) -> float:
    value = table.at[rule, column] if column in table.columns else np.nan
    return 0.0 if pd.isna(value) else float(value)


def chosen_learner(evaluation: pd.DataFrame) -> str | None:
    """The uplift learner to ship: the one with the highest estimated incremental profit
    summed over offers, unless on some offer the best baseline beats it significantly (the
    paired 95% interval of their difference lies below 0); then None, and the action list
    keeps today's rule.

    Not "higher point estimate than every baseline": a held-out campaign's profit estimate
    of a 200-contact list is noisy (value-weighted outcomes of the few control rows in the
    list), and the best of three noisy baseline estimates is biased upwards, so a point
    comparison sends the build back to a baseline by chance (measured on generated shops,
    BENCHMARKS.md "Uplift")."""
    models = evaluation[evaluation["rule_kind"] == "uplift_model"]
    if models.empty:
        return None
    totals = models.groupby("rule")["incremental_profit"].sum().sort_values(ascending=False)
    best = str(totals.index[0])
    rows = models[models["rule"] == best]
    return None if bool((rows["difference_ci_high"] < 0).any()) else best


def fit_for_scoring(frame: pd.DataFrame, learner: str, settings: UpliftSettings):
    """The chosen learner refitted per offer on every mature campaign."""
    features = feature_names(frame)
    fitted = {}
    for offer in offers_of(frame):
        rows = arm(frame, offer)
        if not _enough(rows):
            continue
        model = make_uplift_learner(learner, settings.seed)
        model.fit(
            matrix(rows, features), rows["is_treatment"].to_numpy(), rows["is_retained"].to_numpy()
        )
        fitted[offer] = model
    return features, fitted


def score_customers(customers: pd.DataFrame, features: list[str], fitted: dict) -> pd.DataFrame:
    """Estimated uplift of each offer for each customer (one column per offer)."""
    x = matrix(customers, features)
    return pd.DataFrame(
        {offer: model.effect(x) for offer, model in fitted.items()}, index=customers.index
    )
