"""Recipes: what could ship, each validated exactly as it would ship.

A recipe is (learner, calibration, rule):

- learner: a classifier (logistic regression, gradient boosting, the Keras
  network, their average, ...) or a BTYD model (Pareto/NBD, BG/NBD
  P(no purchase in H), fitted without labels on the scoring date's
  customers), or the constant rate.
- calibration, learned at v(t), the latest cutoff labelled by the scoring
  date t: none; prior_shift (one logit offset so the mean prediction at v(t)
  equals its churn rate: the base-rate drift correction); sigmoid; isotonic
  (binned, bounded); btyd_blend (a logistic regression on the classifier's and
  BG/NBD's logits: a stack of the two).
- rule: `refit` ships M(t), trained on every cutoff labelled by t, with the
  calibration learned from M(v(t))'s out-of-time predictions at v(t) (the
  prior shift is learned on M(t)'s own predictions at v(t): one parameter);
  `validated` ships M(v(t)) itself with that calibration. BTYD and constant
  recipes have the rule `scoring_date`.

`apply_recipe(recipe, origin, inputs)` is the single definition of what a
recipe predicts at an origin; the validation origins and the shipping at
as_of_date both go through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from retention.churn.model import ISOTONIC_MIN_ROWS, Calibrator
from retention.churn.plan import CutoffPlan, Origin

BTYD_LEARNERS = ("pareto_nbd", "bg_nbd")
# The BTYD model the blend stacks with a classifier, and the one offered calibrated. BG/NBD,
# not Pareto/NBD: its MAP fit costs a quarter of the time (graph compilation dominates both,
# about 2 s against 6-8 s per fit here, whatever the customer count), and the blend and the
# calibration need one more fit per calibration cutoff.
BLEND_BTYD = "bg_nbd"
CONSTANT = "constant_rate"


@dataclass(frozen=True)
class Recipe:
    learner: str
    calibration: str
    rule: str

    @property
    def name(self) -> str:
        if self.learner in BTYD_LEARNERS and self.calibration == "none":
            return f"{self.learner}_p_no_purchase"  # the BTYD baselines, as named since v0.1
        if self.learner == CONSTANT:
            return CONSTANT
        if self.learner in BTYD_LEARNERS:
            return f"{self.learner}/{self.calibration}"
        return f"{self.learner}/{self.calibration}/{self.rule}"

    @property
    def kind(self) -> str:
        """baseline: uses no features beyond recency/frequency and no labels (or only the
        rate); candidate: everything else."""
        if self.learner == CONSTANT or (
            self.learner in BTYD_LEARNERS and self.calibration == "none"
        ):
            return "baseline"
        return "candidate"

    @property
    def uses_btyd(self) -> bool:
        return self.learner in BTYD_LEARNERS or self.calibration == "btyd_blend"


class RecipeInputs(Protocol):
    def raw(self, learner: str, fit_date: pd.Timestamp, at: pd.Timestamp) -> np.ndarray:
        """M(fit_date)'s raw churn probabilities for the rows of cutoff `at`."""

    def btyd(self, kind: str, fitted_at: pd.Timestamp, at: pd.Timestamp) -> np.ndarray:
        """P(no purchase in H) for the rows of cutoff `at`, from a BTYD model fitted (without
        labels) on the rows of the scoring date `fitted_at`."""

    def labels(self, at: pd.Timestamp) -> np.ndarray:
        """The churn labels of the rows of cutoff `at` (mature cutoffs only)."""

    def row_count(self, at: pd.Timestamp) -> int:
        """How many rows cutoff `at` has."""


def validated_calibrations(
    plan: CutoffPlan, use_btyd: bool, calibration: str, calibration_rows: int
) -> list[str]:
    """The calibrations this run can validate (`calibration` other than "auto" keeps one)."""
    calibrations = ["none", "prior_shift"]
    if plan.mode == "deep":
        calibrations.append("sigmoid")
        if calibration_rows >= ISOTONIC_MIN_ROWS:
            calibrations.append("isotonic")
        if use_btyd:
            calibrations.append("btyd_blend")
    return [c for c in calibrations if calibration in ("auto", c)]


def baseline_recipes(use_btyd: bool, calibration: str) -> list[Recipe]:
    """The constant rate and, with purchase data, both BTYD models (and the blend's BTYD
    model calibrated)."""
    recipes = [Recipe(CONSTANT, "none", "scoring_date")]
    if use_btyd:
        recipes += [Recipe(kind, "none", "scoring_date") for kind in BTYD_LEARNERS]
        recipes += [
            Recipe(BLEND_BTYD, cal, "scoring_date")
            for cal in ("prior_shift", "sigmoid")
            if calibration in ("auto", cal)
        ]
    return recipes


def enumerate_recipes(
    learners: list[str],
    plan: CutoffPlan,
    use_btyd: bool,
    calibration: str = "auto",
    final_model: str = "auto",
    calibration_rows: int = 0,
) -> list[Recipe]:
    """Every recipe this run can validate. `calibration` / `final_model` other than
    "auto" restrict the calibrations / rules; `calibration_rows` is the smallest row
    count of a calibration cutoff (isotonic needs ISOTONIC_MIN_ROWS)."""
    calibrations = validated_calibrations(plan, use_btyd, calibration, calibration_rows)
    rules = ["refit", "validated"] if final_model == "auto" else [final_model]
    # "validated" needs an out-of-time calibration: M(v) trained purged.
    recipes = [
        Recipe(learner, cal, rule)
        for learner in learners
        for cal in calibrations
        for rule in rules
        if not (rule == "validated" and cal in ("none", "prior_shift"))
    ]
    return recipes + baseline_recipes(use_btyd, calibration)


def recipe_sources(recipe: Recipe, origin: Origin) -> tuple[tuple, tuple]:
    """(the raw score applied at the origin, the raw score the calibration is learned on),
    each as ("model", learner, fit date, cutoff) or ("btyd", kind, fit date, cutoff). A BTYD
    model is fitted at the scoring date t and scores both t's and v(t)'s rows: at t, the
    calibration cutoff's history is known, and one scorer on both sides of the calibration
    is what it learns to map."""
    t, v = origin.date, origin.calibration_cutoff
    if recipe.learner in BTYD_LEARNERS:
        return ("btyd", recipe.learner, t, t), ("btyd", recipe.learner, t, v)
    model_date = t if recipe.rule == "refit" else v
    learned_on = t if recipe.calibration == "prior_shift" else v
    return ("model", recipe.learner, model_date, t), ("model", recipe.learner, learned_on, v)


def scores_needed(recipes: list[Recipe], origins: list[Origin]) -> list[tuple]:
    """Every score that applying these recipes at these origins reads, as sources
    (recipe_sources' form): what a prefetch can compute next to the fits."""
    needed: dict[tuple, None] = {}
    for recipe in recipes:
        if recipe.learner == CONSTANT:
            continue
        for origin in origins:
            applied, learned_on = recipe_sources(recipe, origin)
            needed[applied] = None
            if recipe.calibration != "none":
                needed[learned_on] = None
            if recipe.calibration == "btyd_blend":
                for at in (origin.calibration_cutoff, origin.date):
                    needed[("btyd", BLEND_BTYD, origin.date, at)] = None
    return list(needed)


def models_needed(recipes: list[Recipe], origins: list[Origin]) -> list[tuple[str, pd.Timestamp]]:
    """The classifier models, as (learner, fit date), that applying these recipes at these
    origins fits: the applied model and, when calibrated, the one the calibration is
    learned on. The same sources apply_recipe reads, so a prefetch fits nothing unused."""
    sources = scores_needed(recipes, origins)
    return list(dict.fromkeys(source[1:3] for source in sources if source[0] == "model"))


def _values(inputs: RecipeInputs, source: tuple) -> np.ndarray:
    kind, *key = source
    return (inputs.btyd if kind == "btyd" else inputs.raw)(*key)


def fit_calibrator(recipe: Recipe, origin: Origin, inputs: RecipeInputs) -> Calibrator:
    """The recipe's calibration, learned at v(origin) from labels known by the origin."""
    if recipe.calibration == "none":
        return Calibrator("none")
    v = origin.calibration_cutoff
    _, learned_on = recipe_sources(recipe, origin)
    btyd = inputs.btyd(BLEND_BTYD, origin.date, v) if recipe.calibration == "btyd_blend" else None
    return Calibrator(recipe.calibration).fit(_values(inputs, learned_on), inputs.labels(v), btyd)


def apply_recipe(recipe: Recipe, origin: Origin, inputs: RecipeInputs) -> np.ndarray:
    """The recipe's shipped churn probabilities for the rows of the origin's date."""
    if recipe.learner == CONSTANT:
        rate = inputs.labels(origin.calibration_cutoff).mean()
        return np.full(inputs.row_count(origin.date), rate)
    applied, _ = recipe_sources(recipe, origin)
    calibrator = fit_calibrator(recipe, origin, inputs)
    blend = recipe.calibration == "btyd_blend"
    btyd = inputs.btyd(BLEND_BTYD, origin.date, origin.date) if blend else None
    return calibrator.transform(_values(inputs, applied), btyd)
