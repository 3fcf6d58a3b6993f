"""The model card's curves: ROC, precision-recall, calibration and lift, one style per model.

ROC and precision-recall are drawn at the ten decile thresholds: the marts store lift by
decile (customers and churn rate per tenth of each score), not every threshold.
"""

from __future__ import annotations

import pandas as pd

from retention.report import svg
from retention.report.components import Figure, chart

BASELINES = ("baseline", "anti_baseline")


def decile_curves(curves: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """ROC and precision-recall points at the ten decile thresholds of each model's score,
    from its lift_by_decile rows (customers and churn rate per decile, riskiest first)."""
    out = {}
    for name, g in curves[curves["curve"] == "lift_by_decile"].groupby("model_name"):
        g = g.sort_values("bucket")
        positives = g["customers"] * g["observed_churn_rate"]
        negatives = g["customers"] - positives
        total_p, total_n = positives.sum(), negatives.sum()
        if total_p <= 0 or total_n <= 0:
            continue
        tp, fp = positives.cumsum(), negatives.cumsum()
        out[name] = pd.DataFrame(
            {
                "fpr": [0.0, *(fp / total_n)],
                "tpr": [0.0, *(tp / total_p)],
                "precision": [None, *(tp / (tp + fp))],
                "share": [0.0, *(g["customers"].cumsum() / g["customers"].sum())],
                "lift": [None, *g["lift"]],
            }
        )
    return out


def chart_styles(evaluation: pd.DataFrame) -> list[tuple[str, dict]]:
    """Models drawn on the curves, with their style: the chosen one bold, one colour per
    model in every chart, baselines dashed."""
    styles = []
    order = {"candidate": 0, "champion": 1, "baseline": 2, "anti_baseline": 3}
    rows = evaluation.sort_values(
        by=["is_chosen", "model_kind"],
        key=lambda s: s.map(order) if s.name == "model_kind" else ~s.astype(bool),
    )
    for i, (_, r) in enumerate(rows.iterrows()):
        if r["model_name"] == "constant_rate":
            continue  # one score for everyone: no ranking to draw
        style = {"width": 3.0 if r["is_chosen"] else 1.5, "color": svg.PALETTE[i % 10]}
        if r["model_kind"] in BASELINES:
            style["dash"] = "5 3" if r["model_kind"] == "baseline" else "2 3"
        styles.append((r["model_name"], {**style, "label": _label(r)}))
    return styles


def _label(row: pd.Series) -> str:
    label = row["model_name"] + (" (chosen)" if row["is_chosen"] else "")
    if row["model_kind"] != "candidate":
        label += f" [{row['model_kind'].replace('_', '-')}]"
    return label


def styled(style: dict, xs, ys) -> svg.Series:
    """One model's line, in the colour and dash it has on every chart."""
    return svg.Series(
        style["label"],
        list(xs),
        list(ys),
        color=style["color"],
        width=style["width"],
        dash=style.get("dash"),
        markers=True,
    )


class ModelCurves:
    """The four charts of one model version, from fct_model_evaluation_curves."""

    def __init__(self, curves: pd.DataFrame, evaluation: pd.DataFrame):
        self.curves = curves
        self.points = decile_curves(curves)
        self.drawn = [(n, s) for n, s in chart_styles(evaluation) if n in self.points]
        base_rate = evaluation["base_rate"].dropna()
        self.base_rate = base_rate.iloc[0] if len(base_rate) else None

    def figures(self) -> list[Figure]:
        return [
            chart(
                self.roc,
                "Points: top 10%, 20%, ... of each score. AUCs in the table use every threshold.",
            ),
            chart(self.precision_recall),
            chart(
                self.calibration,
                "On the diagonal = calibrated. Ranking-only baselines have no probabilities.",
            ),
            chart(self.lift),
        ]

    def _series(self, x: str, y: str, skip_first: bool = False) -> list[svg.Series]:
        return [
            styled(style, p[x], p[y])
            for name, style in self.drawn
            for p in [self.points[name].iloc[1:] if skip_first else self.points[name]]
        ]

    def roc(self) -> str:
        return svg.line_chart(
            self._series("fpr", "tpr"),
            title="ROC (at the 10 decile thresholds)",
            x_label="false positive rate",
            y_label="true positive rate",
            x_range=(0, 1),
            y_range=(0, 1),
            diagonal=True,
            height=380,
        )

    def precision_recall(self) -> str:
        series = self._series("tpr", "precision", skip_first=True)
        if self.base_rate is not None:
            series.append(
                svg.Series(
                    f"base rate {self.base_rate:.0%}",
                    [0, 1],
                    [self.base_rate] * 2,
                    color="#999",
                    width=1,
                    dash="4 3",
                )
            )
        return svg.line_chart(
            series,
            title="Precision-recall (at the 10 decile thresholds)",
            x_label="recall (share of churners caught)",
            y_label="precision",
            x_range=(0, 1),
            y_range=(0, 1),
            height=380,
        )

    def calibration(self) -> str:
        bins = self.curves[self.curves["curve"] == "calibration"]
        styles = dict(self.drawn)
        series = []
        for name in [n for n, _ in self.drawn if n in set(bins["model_name"])]:
            g = bins[bins["model_name"] == name].sort_values("bucket")
            series.append(styled(styles[name], g["mean_score"], g["observed_churn_rate"]))
        return svg.line_chart(
            series,
            title="Calibration (10 probability bins)",
            x_label="mean predicted probability",
            y_label="observed churn rate",
            x_range=(0, 1),
            y_range=(0, 1),
            diagonal=True,
            height=380,
        )

    def lift(self) -> str:
        series = [
            styled(style, range(1, len(self.points[name])), self.points[name]["lift"].iloc[1:])
            for name, style in self.drawn
        ]
        return svg.line_chart(
            series,
            title="Lift by decile (1 = riskiest 10%)",
            x_label="decile of the score",
            y_label="churn rate / base rate",
            x_range=(1, 10),
            y_format=lambda v: f"{v:.1f}",
            height=380,
        )
