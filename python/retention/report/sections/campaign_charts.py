"""The campaigns section's charts: Qini curves of the targeting rules and the uplift
calibration of a learner, on the held-out campaign (fct_uplift_qini_curve,
fct_uplift_calibration)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from retention.report import svg

RANDOM_STYLE = {"color": "#999", "width": 1.5, "dash": "5 3"}


def qini_chart(curve: pd.DataFrame, offer: str, order: Mapping[str, int]) -> str:
    """One line per rule from (0, 0), the uplift learners first; random targeting's
    expected line (the same for every rule: a straight line to the total) dashed."""
    rules = sorted(curve["rule"].unique(), key=lambda r: (order.get(r, len(order)), r))
    series = []
    for i, rule in enumerate(rules):
        g = curve[curve["rule"] == rule]
        series.append(
            svg.Series(
                rule,
                [0.0, *g["share_targeted"]],
                [0.0, *g["incremental_retained"]],
                color=svg.PALETTE[i % len(svg.PALETTE)],
                width=2.5 if rule.endswith("learner") else 1.5,
                markers=rule.endswith("learner"),
            )
        )
    random = curve[curve["rule"] == rules[0]]
    series.append(
        svg.Series(
            "random targeting (expected)",
            [0.0, *random["share_targeted"]],
            [0.0, *random["random_incremental_retained"]],
            **RANDOM_STYLE,
        )
    )
    return svg.line_chart(
        series,
        title=f"Qini curves, offer {offer} (held-out campaign)",
        x_label="share of held-out rows targeted, best scores first",
        y_label="incremental customers retained",
        x_range=(0, 1),
        x_format=svg.percent,
        height=360,
    )


def calibration_chart(bins: pd.DataFrame, learner: str, offer: str) -> str:
    """Predicted against observed uplift per decile of predicted uplift, with the observed
    difference's 95% interval as two faint lines."""
    deciles = list(bins["uplift_decile"])
    columns = ["predicted_uplift", "observed_uplift", "observed_uplift_ci_low",
               "observed_uplift_ci_high"]  # fmt: skip
    values = bins[columns].stack().dropna()
    # Rounded out to 10 pp, so the axis gets a tick every 10 or 20 pp, not just 0 and one
    # (no values: line_chart says there is nothing to draw).
    y_range = (
        math.floor(min(values.min(), 0) * 10) / 10,
        math.ceil(max(values.max(), 0) * 10) / 10,
    ) if len(values) else None  # fmt: skip
    band = {"color": "#d62728", "width": 1.0, "dash": "2 3", "opacity": 0.6}
    return svg.line_chart(
        [
            svg.Series("predicted uplift", deciles, list(bins["predicted_uplift"]),
                       color="#1f77b4", markers=True),
            svg.Series("observed uplift", deciles, list(bins["observed_uplift"]),
                       color="#d62728", markers=True),
            svg.Series("observed 95% interval", deciles,
                       list(bins["observed_uplift_ci_low"]), **band),
            svg.Series("observed 95% interval (high)", deciles,
                       list(bins["observed_uplift_ci_high"]), legend=False, **band),
        ],
        title=f"Uplift calibration, {learner}, offer {offer}",
        x_label="decile of predicted uplift (1 = highest)",
        y_label="uplift in P(retained)",
        x_range=(1, 10),
        y_range=y_range,
        y_format=lambda v: f"{v * 100:+.0f} pp" if v else "0",
        height=360,
    )  # fmt: skip
