"""Uplift benchmark: the true incremental profit of each targeting rule's list.

For each seed, a shop with randomized past campaigns is generated (`retention generate
--campaigns`), whose ground truth holds every contact's potential outcomes and true
effects. A real `dbt build` (orders and contacts) validates the uplift learners and the
baselines on the latest campaign (ml_uplift_validation: fitted on the earlier campaigns).
This script then takes the list each rule would send within the budget - the same
selection as ml_uplift_evaluation - and scores it with the truth, per offer:

    true incremental profit = sum over the list of
        (retained_if_<offer> - retained_if_control) x value - offer cost

next to an oracle that ranks by the true expected effect x value - cost. Reported per rule:
the true profit, its share of the oracle's, the paired bootstrap interval of its difference
with the uplift policy (resampling the held-out rows), and the share of sleeping dogs (a
contact lowers their retention) in its list. Also: whether each campaign's measured effect
in fct_campaign_results (treated - control, 95% interval) holds its true average effect.

Usage: python benchmarks/uplift.py [--seeds 101 103 107 109 113] [--customers 20000] [--campaigns 4]
Prints markdown for BENCHMARKS.md; results in benchmarks/results/uplift.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from retention.datagen import GeneratorConfig, generate
from retention.dbt_runner import REPO_ROOT, query, run_dbt
from retention.uplift.evaluation import select_within_budget
from retention.uplift.pipeline import targeting_score

ORDERS_AND_CONTACTS = {
    "enable_contacts": True,
    "enable_customers": False,
    "enable_order_items": False,
    "enable_products": False,
    "enable_events": False,
}
BOOTSTRAP_ROUNDS = 1000


def read_truth(raw: Path) -> pd.DataFrame:
    folder = raw / "ground_truth"
    files = sorted(folder.glob("contacts_truth*.parquet")) + sorted(
        folder.glob("contacts_truth/*.parquet")
    )
    if files:
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return pd.read_csv(folder / "contacts_truth.csv")


def build(
    seed: int, customers: int, campaigns: int, work: Path
) -> tuple[Path, pd.DataFrame, float]:
    raw = work / f"raw_{seed}"
    generate(GeneratorConfig(customers=customers, seed=seed, out=raw, format="parquet",
                             events_scale=0.05, campaigns=campaigns, quiet=True))  # fmt: skip
    db = work / f"uplift_{seed}.duckdb"
    started = time.perf_counter()
    run_dbt(
        ["build", "--select", "+fct_uplift_evaluation", "+fct_campaign_results",
         "--exclude", "test_type:unit"],
        db, dbt_vars={"raw_path": str(raw), **ORDERS_AND_CONTACTS}, timeout=3600,
    )  # fmt: skip
    return db, read_truth(raw), time.perf_counter() - started


def predictions(db: Path) -> pd.DataFrame:
    columns = ["contact_id", "campaign_id", "offer_type", "offer_cost", "rule", "rule_kind",
               "score", "is_treatment", "is_retained", "value"]  # fmt: skip
    rows = query(db, f"select {', '.join(columns)} from ml.ml_uplift_validation")
    return pd.DataFrame(rows, columns=columns)


def budget_of(db: Path) -> float:
    [(budget,)] = query(db, "select max(budget) from marts.fct_uplift_evaluation")
    return float(budget)


def shipped_rule(db: Path) -> str:
    """The chosen uplift learner, or today's rule (risk x value) when none beat the baselines."""
    rows = query(db, "select distinct rule from marts.fct_uplift_evaluation where is_chosen")
    return rows[0][0] if rows else "risk_x_value"


def true_profits(
    pred: pd.DataFrame, truth: pd.DataFrame, budget: float, seed: int, policy: str
) -> list[dict]:
    """Each rule's list scored with the truth; differences are against `policy` (what ships)."""
    out = []
    truth = truth.set_index("contact_id")
    rng = np.random.default_rng(seed)
    for offer, rows in pred.groupby("offer_type"):
        rules = list(dict.fromkeys(rows["rule"]))
        first = rows[rows["rule"] == rules[0]].reset_index(drop=True)
        t = truth.loc[first["contact_id"]]
        gain = t[f"retained_if_{offer}"].astype(float) - t["retained_if_control"].astype(float)
        value = first["value"].to_numpy()
        cost = first["offer_cost"].to_numpy()
        per_row = gain.to_numpy() * value - cost  # true profit of contacting each row
        expected = t[f"true_effect_{offer}"].astype(float).to_numpy() * value - cost
        selections = {"oracle": select_within_budget(expected, cost, budget, positive_only=True)}
        for rule in rules:
            scores = rows[rows["rule"] == rule].reset_index(drop=True)
            selections[rule] = select_within_budget(
                targeting_score(rule, scores), cost, budget,
                positive_only=rule not in ("risk", "random"),
            )  # fmt: skip
        dogs = (t["customer_type"] == "sleeping_dog").to_numpy()
        resamples = rng.integers(0, len(first), size=(BOOTSTRAP_ROUNDS, len(first)))
        oracle_value = float(per_row[selections["oracle"]].sum())
        for rule, selected in selections.items():
            value_of = float(per_row[selected].sum())
            diffs = None
            if rule != policy:
                contribution = per_row * (selections[policy].astype(float) - selected.astype(float))
                diffs = contribution[resamples].sum(axis=1)
            out.append({
                "offer_type": offer, "rule": rule, "selected": int(selected.sum()),
                "true_profit": value_of,
                "share_of_oracle": value_of / oracle_value if oracle_value > 0 else float("nan"),
                "policy_minus_rule": None if diffs is None else float(
                    per_row[selections[policy]].sum() - value_of),
                "diff_ci_low": None if diffs is None else float(np.percentile(diffs, 2.5)),
                "diff_ci_high": None if diffs is None else float(np.percentile(diffs, 97.5)),
                "sleeping_dogs_in_list": int((selected & dogs).sum()),
                "sleeping_dogs_share": float((selected & dogs).sum() / max(1, selected.sum())),
                "sleeping_dogs_held_out": int(dogs.sum()),
            })  # fmt: skip
    return out


def campaign_coverage(db: Path, truth: pd.DataFrame, seed: int) -> list[dict]:
    """Each campaign and offer of fct_campaign_results (all customers) next to its true average
    effect: the mean over the campaign's rows of retained_if_<offer> - retained_if_control."""
    rows = query(
        db,
        "select campaign_id, offer_type, retention_effect, retention_effect_ci_low,"
        " retention_effect_ci_high from marts.fct_campaign_results where recency_band = 'all'"
        " order by campaign_id, offer_type",
    )
    out = []
    for campaign, offer, effect, low, high in rows:
        members = truth[truth["campaign_id"] == campaign]
        true_effect = float(
            (members[f"retained_if_{offer}"].astype(float)
             - members["retained_if_control"].astype(float)).mean()
        )  # fmt: skip
        out.append({"seed": seed, "campaign_id": campaign, "offer_type": offer,
                    "measured": effect, "ci_low": low, "ci_high": high, "true": true_effect,
                    "covered": bool(low <= true_effect <= high)})  # fmt: skip
    return out


def coverage_markdown(rows: list[dict]) -> str:
    lines = ["| seed | campaign | offer | measured effect (95% CI) | true effect | covered |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['campaign_id']} | {r['offer_type']} | {r['measured']:+.3f} "
            f"({r['ci_low']:+.3f} .. {r['ci_high']:+.3f}) | {r['true']:+.3f} "
            f"| {'yes' if r['covered'] else '**no**'} |"
        )
    covered = sum(r["covered"] for r in rows)
    lines.append(f"\n{covered} of {len(rows)} intervals hold the true average effect.")
    return "\n".join(lines)


def markdown(results: list[dict]) -> str:
    lines = ["| seed | offer | rule | contacted | true profit | share of oracle "
             "| shipped - rule (95% CI) | sleeping dogs in list |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        diff = (
            "–"
            if r["policy_minus_rule"] is None
            else f"{r['policy_minus_rule']:+.0f} ({r['diff_ci_low']:+.0f} .. {r['diff_ci_high']:+.0f})"
        )
        lines.append(
            f"| {r['seed']} | {r['offer_type']} | {r['rule']}{' (ships)' if r['rule'] == r['shipped'] else ''} | {r['selected']} "
            f"| {r['true_profit']:.0f} | {r['share_of_oracle']:.0%} | {diff} "
            f"| {r['sleeping_dogs_in_list']} of {r['sleeping_dogs_held_out']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 103, 107, 109, 113])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--campaigns", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks/results/uplift.json")
    args = parser.parse_args(argv)
    results, coverage = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="uplift_") as tmp:
        for seed in args.seeds:
            db, truth, seconds = build(seed, args.customers, args.campaigns, Path(tmp))
            coverage += campaign_coverage(db, truth, seed)
            policy = shipped_rule(db)
            for row in true_profits(predictions(db), truth, budget_of(db), seed, policy):
                results.append({"seed": seed, "build_seconds": seconds, "shipped": policy, **row})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"wall_seconds": time.perf_counter() - started,
                                    "results": results, "campaigns": coverage}, indent=1))  # fmt: skip
    print(markdown(results))
    print()
    print(coverage_markdown(coverage))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
