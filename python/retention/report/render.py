"""The report's sections, each rendered from the published marts into HTML.

Every section checks that its marts were published with rows first; when they
were not (an orders-only source such as CDNOW has no events or products, a
model may be skipped for too few labels) it says "not available for this
data" and the rest of the report is still rendered.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import pandas as pd

from retention.report import svg
from retention.report.data import Marts

NOT_AVAILABLE = "Not available for this data"


@dataclass
class Section:
    key: str
    title: str
    html: str
    available: bool


# ---------------------------------------------------------------- formatting


def _missing(value) -> bool:
    return svg.is_missing(value) if not isinstance(value, str) else False


def fmt_int(value) -> str:
    return "–" if _missing(value) else f"{int(value):,}"


def fmt_pct(value, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{float(value):.{digits}%}"


def fmt_num(value, digits: int = 3) -> str:
    return "–" if _missing(value) else f"{float(value):,.{digits}f}"


def fmt_money(value) -> str:
    return "–" if _missing(value) else f"{float(value):,.0f}"


def fmt_text(value) -> str:
    return "–" if value is None or _missing(value) else str(value)


def fmt_date(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    return str(pd.Timestamp(value).date())


def unavailable(reason: str) -> str:
    return f'<p class="unavailable">{NOT_AVAILABLE}: {escape(reason)}</p>'


def _missing_reason(marts: Marts, *tables: str) -> str | None:
    """Why these marts cannot feed a section, or None when they all have rows."""
    for table in tables:
        if table not in marts.tables:
            return f"marts.{table} was not built for this source (disabled or not applicable)."
        if marts.tables[table] == 0:
            return f"marts.{table} has no rows in this build."
    return None


def table_html(
    frame: pd.DataFrame,
    formats: dict[str, Callable[[object], str]],
    headers: dict[str, str],
    *,
    highlight: pd.Series | None = None,
    css: str = "",
) -> str:
    head = "".join(f"<th>{escape(headers.get(c, c))}</th>" for c in formats)
    rows = []
    for i, (_, row) in enumerate(frame.iterrows()):
        cls = ' class="highlight"' if highlight is not None and bool(highlight.iloc[i]) else ""
        cells = "".join(f"<td>{escape(str(f(row[c])))}</td>" for c, f in formats.items())
        rows.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def card(label: str, value: str, note: str = "") -> str:
    return (
        f'<div class="card"><div class="card-label">{escape(label)}</div>'
        f'<div class="card-value">{escape(value)}</div>'
        f'<div class="card-note">{escape(note)}</div></div>'
    )


def figure(svg_text: str, caption: str = "") -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure class="figure">{svg_text}{cap}</figure>'


def _safe_chart(render: Callable[[], str], caption: str = "") -> str:
    """A chart, or a note when its data has no point to draw (never a crash)."""
    try:
        return figure(render(), caption)
    except ValueError as error:
        return unavailable(str(error))


# ---------------------------------------------------------------- context


@dataclass
class RunContext:
    """The champion run the model card and summary refer to (None without a model)."""

    run: pd.Series | None
    horizon_days: int
    horizon_is_default: bool

    @classmethod
    def load(cls, marts: Marts) -> RunContext:
        if not marts.has("fct_model_runs"):
            return cls(None, 90, True)
        runs = marts.df(
            "select * from marts.fct_model_runs order by is_champion desc, trained_at desc"
        )
        run = runs.iloc[0]
        horizon, default = 90, True
        try:
            config = json.loads(run["parameters_json"] or "{}").get("config", {})
            if config.get("horizon_days"):
                horizon, default = int(config["horizon_days"]), False
        except (TypeError, ValueError):
            pass
        return cls(run, horizon, default)


# ---------------------------------------------------------------- summary


def amounts_note(marts: Marts) -> str | None:
    """Why spend, CLV and revenue at risk are missing, when orders lack amounts
    (fct_source_quality.without_amount_count; README, "Orders without amounts")."""
    if not marts.has("fct_source_quality", "without_amount_count"):
        return None
    row = marts.one(
        "select row_count, without_amount_count from marts.fct_source_quality"
        " where source_table = 'orders' and outcome = 'clean'"
    )
    if not row or not row[1]:
        return None
    clean, missing = int(row[0]), int(row[1])
    if missing == clean:
        return (
            f"No order has an amount (order_total is empty or absent on all {clean:,} clean "
            "orders): spend features, CLV and revenue at risk are left out, and the action list "
            "values customers by expected orders (× value_per_order when set; see value_basis)."
        )
    return (
        f"{missing:,} of {clean:,} clean orders have no amount (order_total empty): the spend "
        "features, CLV and revenue at risk of the customers who placed them are null (a total "
        "with an unknown part is unknown), and so are the revenue totals that include them; the "
        "action list values those customers by expected orders × value_per_order."
    )


def no_model_note(marts: Marts, ctx: RunContext) -> str | None:
    """Why there are no churn scores, when no model was trained (churn_on_insufficient_labels:
    skip and no earlier champion)."""
    if ctx.run is not None:
        return None
    return (
        "No churn model: there were too few labelled rows to train one, and the build ran with "
        "churn_on_insufficient_labels: skip. Churn probabilities and risk tiers are null; the "
        "action list ranks customers on the BG/NBD baseline, P(no purchase in the horizon) "
        "(score_source)."
    )


def summary_section(marts: Marts, ctx: RunContext) -> Section:
    reason = _missing_reason(marts, "dim_customers")
    if reason:
        return Section("summary", "Summary", unavailable(reason), False)
    h = ctx.horizon_days
    row = marts.df(
        f"""
        select
            max(as_of_date) as as_of_date,
            count(*) as customers,
            count(*) filter (where days_since_last_order < {h}) as active,
            count(churn_probability) as scored,
            avg(churn_probability) as predicted_churn,
            sum(churn_probability) as expected_churners,
            count(*) filter (where risk_tier = 'high') as high_risk,
            sum(revenue_at_risk) as revenue_at_risk,
            sum(clv) as clv
        from marts.dim_customers
        """
    ).iloc[0]
    observed = None
    if marts.has("fct_customer_snapshots"):
        observed = marts.df(
            """
            select cutoff_date, count(*) as labelled, avg(is_churned::double) as churn_rate
            from marts.fct_customer_snapshots
            where is_label_mature
            group by cutoff_date order by cutoff_date desc limit 1
            """
        )
        observed = observed.iloc[0] if len(observed) else None
    horizon_note = f"{h} days" + (" (default; no model run)" if ctx.horizon_is_default else "")
    cards = [
        card("Customers", fmt_int(row["customers"]), f"as of {fmt_date(row['as_of_date'])}"),
        card(
            "Active customers",
            fmt_int(row["active"]),
            f"{fmt_pct(row['active'] / row['customers'])} ordered in the last {horizon_note}",
        ),
    ]
    if observed is not None:
        cards.append(
            card(
                "Churn rate (observed)",
                fmt_pct(observed["churn_rate"]),
                f"of {fmt_int(observed['labelled'])} customers eligible at "
                f"{fmt_date(observed['cutoff_date'])}: no order in the next {h} days",
            )
        )
    else:
        cards.append(card("Churn rate (observed)", "–", "no mature label window yet"))
    cards.append(
        card(
            "Churn rate (predicted)",
            fmt_pct(row["predicted_churn"]),
            f"mean probability of {fmt_int(row['scored'])} scored customers; "
            f"{fmt_int(row['high_risk'])} at high risk",
        )
    )
    cards.append(
        card(
            "Revenue at risk",
            fmt_money(row["revenue_at_risk"]),
            "sum of CLV × churn probability" + ("" if _missing(row["clv"]) else ""),
        )
    )
    notes = [n for n in (no_model_note(marts, ctx), amounts_note(marts)) if n]
    if _missing(row["revenue_at_risk"]) and not notes:
        notes.append(
            "Revenue at risk needs CLV (BG/NBD + Gamma-Gamma), which was not computed "
            "for this data."
        )
    body = f'<div class="cards">{"".join(cards)}</div>' + "".join(
        f'<p class="note">{escape(n)}</p>' for n in notes
    )
    return Section("summary", "Summary", body, True)


# ---------------------------------------------------------------- cohorts


def cohort_section(marts: Marts) -> Section:
    reason = _missing_reason(marts, "fct_cohort_retention")
    if reason:
        return Section("cohorts", "Cohort retention", unavailable(reason), False)
    frame = marts.df(
        """
        select cohort_start_date, period_number, cohort_customers, active_customers,
               n_day_retention, unbounded_retention, is_period_complete, is_suppressed
        from marts.fct_cohort_retention
        where cohort_grain = 'month'
        order by cohort_start_date, period_number
        """
    )
    if frame.empty:
        return Section(
            "cohorts", "Cohort retention", unavailable("no monthly cohorts in this build."), False
        )
    cohorts = sorted(frame["cohort_start_date"].unique())
    periods = list(range(int(frame["period_number"].max()) + 1))
    cells = frame.set_index(["cohort_start_date", "period_number"])
    sizes = frame.groupby("cohort_start_date")["cohort_customers"].max()
    values, status, labels = [], [], []
    for cohort in cohorts:
        size = sizes[cohort]  # null for a cohort below min_group_size (suppressed)
        shown = "suppressed" if _missing(size) else f"n={int(size):,}"
        labels.append(f"{pd.Timestamp(cohort):%Y-%m} ({shown})")
        row_values, row_status = [], []
        for p in periods:
            if (cohort, p) not in cells.index:
                row_values.append(None)
                row_status.append(svg.PENDING)  # beyond the periods the mart lists
                continue
            cell = cells.loc[(cohort, p)]
            if bool(cell["is_suppressed"]):
                row_values.append(None)
                row_status.append(svg.SUPPRESSED)
            elif _missing(cell["n_day_retention"]):
                row_values.append(None)
                row_status.append(svg.PENDING)
            else:
                row_values.append(float(cell["n_day_retention"]))
                row_status.append(svg.VALUE)
        values.append(row_values)
        status.append(row_status)
    later = [
        v for vs in values for p, v in zip(periods, vs, strict=False) if p > 0 and v is not None
    ]
    color_max = max(0.05, math.ceil(max(later, default=1.0) * 20) / 20)
    heat = svg.heatmap(
        labels,
        [str(p) for p in periods],
        values,
        status,
        title="Monthly cohorts: share of customers ordering in month N",
        x_label="months since the first order →",
        color_max=color_max,
        id_prefix="cohort",
    )
    # Curves: one faint line per cohort, the customer-weighted mean in bold.
    done = frame[frame["n_day_retention"].notna()]
    series = [
        svg.Series(
            f"{pd.Timestamp(c):%Y-%m}",
            list(g["period_number"]),
            list(g["n_day_retention"]),
            color="#9ecae1",
            width=1,
            opacity=0.7,
            legend=False,
        )
        for c, g in done.groupby("cohort_start_date")
    ]
    if not done.empty:
        mean = done.groupby("period_number").agg(
            active=("active_customers", "sum"), size=("cohort_customers", "sum")
        )
        series.append(
            svg.Series(
                "all cohorts, in month N (weighted)",
                list(mean.index),
                list(mean["active"] / mean["size"]),
                color="#08306b",
                width=2.5,
                markers=True,
            )
        )
        unbounded = done.assign(
            kept=done["unbounded_retention"] * done["cohort_customers"]
        ).groupby("period_number")
        ub = unbounded["kept"].sum() / unbounded["cohort_customers"].sum()
        series.append(
            svg.Series(
                "all cohorts, in month N or later",
                list(ub.index),
                list(ub),
                color="#d62728",
                width=2,
                dash="5 3",
            )
        )
    curves = _safe_chart(
        lambda: svg.line_chart(
            series,
            title="Retention curves (monthly cohorts)",
            x_label="months since the first order",
            y_label="retained",
            y_range=(0.0, 1.0),
            y_format=svg.percent,
            width=520,
            height=340,
        )
    )
    pending = sum(s == svg.PENDING for row in status for s in row)
    suppressed = sum(s == svg.SUPPRESSED for row in status for s in row)
    body = (
        f'<p class="note">{len(cohorts)} monthly cohorts (first completed order). Hatched cells '
        f"({pending}) are periods that have not ended yet: no data, not 0%. Grey cells "
        f"({suppressed}) belong to cohorts below the minimum group size. The weekly grain is "
        "in marts.fct_cohort_retention too.</p>" + figure(heat) + curves
    )
    return Section("cohorts", "Cohort retention", body, True)


# ---------------------------------------------------------------- segments


def segment_section(marts: Marts) -> Section:
    reason = _missing_reason(marts, "dim_segments")
    if reason:
        return Section("segments", "Segments", unavailable(reason), False)
    seg = marts.df("select * from marts.dim_segments order by segment_id")
    shown = seg[~seg["is_suppressed"].astype(bool)]
    parts = [
        f'<p class="note">{len(seg)} behaviour segments (KMeans, k={fmt_int(seg["k"].iloc[0])}, '
        f"silhouette {fmt_num(seg['silhouette'].iloc[0])}), run {escape(str(seg['segment_run_id'].iloc[0]))}. "
        "Backtest churn: what customers with the segment's profile did at the last mature "
        "cutoff; compare it with the predicted rate.</p>"
    ]
    parts.append(
        table_html(
            seg,
            {
                "segment_name": str,
                "description": lambda v: "(suppressed)" if v is None or _missing(v) else v,
                "customers": fmt_int,
                "share_of_customers": fmt_pct,
                "mean_orders_count": lambda v: fmt_num(v, 1),
                "mean_revenue_total": fmt_money,
                "backtest_churn_rate": fmt_pct,
                "predicted_churn_rate": fmt_pct,
                "observed_churn_rate": fmt_pct,
            },
            {
                "segment_name": "segment",
                "share_of_customers": "share",
                "mean_orders_count": "orders (mean)",
                "mean_revenue_total": "revenue (mean)",
                "backtest_churn_rate": "backtest churn",
                "predicted_churn_rate": "predicted churn",
                "observed_churn_rate": "recent churn",
            },
        )
    )
    charts = []
    if not shown.empty:
        names = list(shown["segment_name"])
        charts.append(
            _safe_chart(
                lambda: svg.bar_chart(
                    names, {"customers": list(shown["customers"])}, title="Segment sizes"
                )
            )
        )
        charts.append(
            _safe_chart(
                lambda: svg.bar_chart(
                    names,
                    {
                        "backtest churn": list(shown["backtest_churn_rate"]),
                        "predicted churn": list(shown["predicted_churn_rate"]),
                    },
                    title="Churn by segment",
                    value_format=svg.percent,
                )
            )
        )
    if marts.has("fct_segment_retention"):
        ret = marts.df(
            """
            select segment_name, period_date, retention_rate, revenue_at_risk, is_scoring_period
            from marts.fct_segment_retention order by segment_id, period_date
            """
        )
        at_risk = ret[ret["is_scoring_period"].astype(bool)]
        if at_risk["revenue_at_risk"].notna().any():
            charts.append(
                _safe_chart(
                    lambda: svg.bar_chart(
                        list(at_risk["segment_name"]),
                        {"revenue at risk": list(at_risk["revenue_at_risk"])},
                        title="Revenue at risk by segment",
                    )
                )
            )
        mature = ret[ret["retention_rate"].notna()]
        if not mature.empty:
            origin = pd.Timestamp(mature["period_date"].min())
            days = lambda d: (pd.Timestamp(d) - origin).days

            def date_label(v: float) -> str:
                return f"{origin + pd.Timedelta(days=v):%Y-%m}"

            charts.append(
                _safe_chart(
                    lambda: svg.line_chart(
                        [
                            svg.Series(
                                name,
                                [days(d) for d in g["period_date"]],
                                list(g["retention_rate"]),
                                markers=True,
                            )
                            for name, g in mature.groupby("segment_name", sort=False)
                        ],
                        title="Retention by segment at each cutoff",
                        x_label="cutoff (label window starts)",
                        y_label="retained in the horizon",
                        y_range=(0.0, 1.0),
                        y_format=svg.percent,
                        x_format=date_label,
                    )
                )
            )
    parts.append(f'<div class="grid">{"".join(charts)}</div>')
    return Section("segments", "Segments", "".join(parts), True)


# ---------------------------------------------------------------- model card


def _decile_curves(curves: pd.DataFrame) -> dict[str, pd.DataFrame]:
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


def _chart_models(evaluation: pd.DataFrame) -> list[tuple[str, dict]]:
    """Models drawn on the curves, with their style: the chosen one bold."""
    styles = []
    order = {"candidate": 0, "champion": 1, "baseline": 2, "anti_baseline": 3}
    rows = evaluation.sort_values(
        by=["is_chosen", "model_kind"],
        key=lambda s: s.map(order) if s.name == "model_kind" else ~s.astype(bool),
    )
    for i, (_, r) in enumerate(rows.iterrows()):
        if r["model_name"] == "constant_rate":
            continue  # one score for everyone: no ranking to draw
        # One colour per model in every chart.
        style = {"width": 3.0 if r["is_chosen"] else 1.5, "color": svg.PALETTE[i % 10]}
        if r["model_kind"] in ("baseline", "anti_baseline"):
            style["dash"] = "5 3" if r["model_kind"] == "baseline" else "2 3"
        label = r["model_name"] + (" (chosen)" if r["is_chosen"] else "")
        if r["model_kind"] != "candidate":
            label += f" [{r['model_kind'].replace('_', '-')}]"
        styles.append((r["model_name"], {**style, "label": label}))
    return styles


def model_section(marts: Marts, ctx: RunContext) -> Section:
    title = "Churn model card"
    reason = _missing_reason(marts, "fct_model_runs", "fct_model_evaluation")
    if reason or ctx.run is None:
        return Section("model", title, unavailable(reason or "no model run."), False)
    run = ctx.run
    version = run["model_version"]
    evaluation = marts.df(
        "select * from marts.fct_model_evaluation where model_version = ?"
        " and (is_shortlisted or model_kind in ('anti_baseline', 'champion')) order by log_loss",
        [version],
    )
    features = json.loads(run["features_json"] or "[]")
    origins = json.loads(run["validation_origins_json"] or "[]")
    facts = [
        ("Model version", version),
        ("Champion", "yes" if run["is_champion"] else "no"),
        ("Trained at (UTC)", str(run["trained_at"])[:19]),
        ("Shipped model", _shipped_sentence(run)),
        ("Calibration", fmt_text(run["calibration"])),
        ("Final-model rule", fmt_text(run["final_model"])),
        ("Selection metric", "mean log loss over the validation origins, as shipped"),
        (
            "Best baseline",
            f"{fmt_text(run['best_baseline'])} (log loss {fmt_num(run['best_baseline_log_loss'])})",
        ),  # fmt: skip
        ("Promotion", fmt_text(run["decision_reason"])),
        ("Scoring date (as_of_date)", fmt_date(run["as_of_date"])),
        ("Label horizon", f"{ctx.horizon_days} days: churned = no completed order in it"),
        ("Validation origins (out of time)", ", ".join(origins) or "-"),
        ("Selection mode", fmt_text(run["selection_mode"])),
        ("Validation rows (all origins)", fmt_int(run["validation_rows"])),
        ("Training snapshots (shipped model)", fmt_int(run["training_cutoffs"])),
        ("Training rows (shipped model)", fmt_int(run["training_rows"])),
        ("Scores above 0.99", fmt_pct(run["share_above_0_99"])),
        ("Decision threshold (max F1)", fmt_num(run["decision_threshold"])),
        ("Features", f"{len(features)}"),
    ]
    facts_html = (
        '<table class="facts">'
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
        + "</table>"
    )
    window_html = ""
    if marts.has("fct_customer_snapshots"):
        cut = marts.df(
            """
            select cutoff_date, any_value(label_window_end_date) as label_window_end_date,
                   count(*) as eligible, bool_or(is_label_mature) as mature,
                   avg(is_churned::double) as churn_rate, bool_or(is_scoring_cutoff) as scoring
            from marts.fct_customer_snapshots group by cutoff_date order by cutoff_date
            """
        )
        validation = {pd.Timestamp(d) for d in origins}
        latest = pd.Timestamp(run["validation_cutoff_date"])

        def role(r) -> str:
            if r["scoring"]:
                return "scoring (label not yet known)"
            if pd.Timestamp(r["cutoff_date"]) in validation:
                return "validation origin"
            if r["mature"] and pd.Timestamp(r["label_window_end_date"]) <= latest:
                return "training (validated models + shipped model)"
            if r["mature"]:
                return "shipped model only (label window overlaps validation)"
            return "not labelled yet"

        cut["role"] = cut.apply(role, axis=1)
        window_html = (
            "<h3>Data window and eligibility</h3>"
            f'<p class="note">A snapshot is one customer at one cutoff; eligible = at least one '
            f"completed order before the cutoff. Features use only days before the cutoff, the "
            f"label the {ctx.horizon_days} days from it. Cutoffs from "
            f"{fmt_date(cut['cutoff_date'].min())} to {fmt_date(cut['cutoff_date'].max())}.</p>"
            + table_html(
                cut,
                {
                    "cutoff_date": fmt_date,
                    "label_window_end_date": fmt_date,
                    "eligible": fmt_int,
                    "churn_rate": fmt_pct,
                    "role": str,
                },
                {
                    "cutoff_date": "cutoff",
                    "label_window_end_date": "label window ends",
                    "eligible": "eligible customers",
                    "churn_rate": "churned",
                },
                highlight=cut["role"].eq("validation origin"),
            )
        )
    eval_html = table_html(
        evaluation,
        {
            "model_name": str,
            "model_kind": str,
            "auc": fmt_num,
            "pr_auc": fmt_num,
            "log_loss": fmt_num,
            "log_loss_std": fmt_num,
            "brier": fmt_num,
            "ece": fmt_num,
            "lift_top_decile": lambda v: fmt_num(v, 2),
            "aggregate_error": fmt_pct,
        },
        {
            "model_name": "model",
            "model_kind": "kind",
            "auc": "ROC AUC",
            "pr_auc": "PR AUC",
            "log_loss": "log loss ↓",
            "log_loss_std": "± across origins",
            "ece": "ECE",
            "lift_top_decile": "lift top 10%",
            "aggregate_error": "aggregate error",
        },
        highlight=evaluation["is_chosen"].astype(bool),
    )
    base_rate = evaluation["base_rate"].dropna()
    charts = []
    if marts.has("fct_model_evaluation_curves"):
        curves = marts.df(
            "select * from marts.fct_model_evaluation_curves where model_version = ?", [version]
        )
        points = _decile_curves(curves)
        drawn = [(n, s) for n, s in _chart_models(evaluation) if n in points]

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

        def series(x: str, y: str, skip_first: bool = False) -> list[svg.Series]:
            return [
                styled(style, p[x], p[y])
                for name, style in drawn
                for p in [points[name].iloc[1:] if skip_first else points[name]]
            ]

        charts.append(
            _safe_chart(
                lambda: svg.line_chart(
                    series("fpr", "tpr"),
                    title="ROC (at the 10 decile thresholds)",
                    x_label="false positive rate",
                    y_label="true positive rate",
                    x_range=(0, 1),
                    y_range=(0, 1),
                    diagonal=True,
                    height=380,
                ),
                "Points: top 10%, 20%, ... of each score. AUCs in the table use every threshold.",
            )
        )
        pr_series = series("tpr", "precision", skip_first=True)
        if len(base_rate):
            pr_series.append(
                svg.Series(
                    f"base rate {base_rate.iloc[0]:.0%}",
                    [0, 1],
                    [base_rate.iloc[0]] * 2,
                    color="#999",
                    width=1,
                    dash="4 3",
                )
            )
        charts.append(
            _safe_chart(
                lambda: svg.line_chart(
                    pr_series,
                    title="Precision-recall (at the 10 decile thresholds)",
                    x_label="recall (share of churners caught)",
                    y_label="precision",
                    x_range=(0, 1),
                    y_range=(0, 1),
                    height=380,
                )
            )
        )
        calibration = curves[curves["curve"] == "calibration"]
        cal_names = [n for n, _ in drawn if n in set(calibration["model_name"])]
        cal_series = []
        for name in cal_names:
            g = calibration[calibration["model_name"] == name].sort_values("bucket")
            cal_series.append(styled(dict(drawn)[name], g["mean_score"], g["observed_churn_rate"]))
        charts.append(
            _safe_chart(
                lambda: svg.line_chart(
                    cal_series,
                    title="Calibration (10 probability bins)",
                    x_label="mean predicted probability",
                    y_label="observed churn rate",
                    x_range=(0, 1),
                    y_range=(0, 1),
                    diagonal=True,
                    height=380,
                ),
                "On the diagonal = calibrated. Ranking-only baselines have no probabilities.",
            )
        )
        lift_series = [
            styled(style, range(1, len(points[name])), points[name]["lift"].iloc[1:])
            for name, style in drawn
        ]
        charts.append(
            _safe_chart(
                lambda: svg.line_chart(
                    lift_series,
                    title="Lift by decile (1 = riskiest 10%)",
                    x_label="decile of the score",
                    y_label="churn rate / base rate",
                    x_range=(1, 10),
                    y_format=lambda v: f"{v:.1f}",
                    height=380,
                )
            )
        )
    else:
        charts.append(unavailable("marts.fct_model_evaluation_curves has no rows."))
    body = (
        '<div class="two-col">'
        + facts_html
        + "<div>"
        + "<h3>Every model on the same validation origins</h3>"
        + '<p class="note">The best recipe of each learner, the baselines (recency rule, '
        "constant rate, BG/NBD and Pareto/NBD P(no purchase)) and the previous champion. "
        "Each was applied at every validation origin exactly as it would ship there, and "
        "its metrics are the means over the origins. Selection: lowest mean log loss; the "
        "chosen row is highlighted. Every recipe: marts.fct_model_evaluation.</p>"
        + eval_html
        + "</div></div>"
        + f'<div class="grid">{"".join(charts)}</div>'
        + _importance_html(marts, run, features)
        + window_html
    )
    return Section("model", title, body, True)


def _shipped_sentence(run: pd.Series) -> str:
    """What ships, in words; says so plainly when a baseline beat every classifier."""
    name = fmt_text(run["chosen_model"])
    if run["learner"] in ("bg_nbd", "pareto_nbd", "constant_rate"):
        return (
            f"{name}: a baseline beat every classifier on validation, so the baseline ships "
            "(scores, tiers and reasons from recency and purchase frequency)"
        )
    return name


def _importance_html(marts: Marts, run: pd.Series, features: list[str]) -> str:
    parts = [
        "<h3>Feature importance</h3>",
        '<p class="note">Permutation importance of the shipped recipe on the latest '
        "validation origin's rows (out of time): how much the log loss rises when a feature "
        "family's values are shuffled across customers (marts.fct_model_feature_importance "
        "has every feature). Next to it, how often each family is a scored customer's "
        "strongest reason (fct_churn_scores).</p>",
    ]
    version = run["model_version"]
    if marts.has("fct_model_feature_importance"):
        families = marts.df(
            "select feature_name, log_loss_increase from marts.fct_model_feature_importance"
            " where model_version = ? and scope = 'family' order by log_loss_increase desc",
            [version],
        )
        if len(families):
            parts.append(
                _safe_chart(
                    lambda: svg.bar_chart(
                        list(families["feature_name"]),
                        {"log loss increase": list(families["log_loss_increase"].clip(lower=0))},
                        title="Global importance by feature family (shuffled, out of time)",
                        value_format=lambda v: f"{v:.3f}",
                        width=520,
                    )
                )
            )
    if marts.has("fct_churn_scores", "reason_1_family"):
        reasons = marts.df(
            """
            select coalesce(reason_1_family, 'none') as family,
                   count(*) as customers,
                   count(*) filter (where risk_tier = 'high') as high_risk
            from marts.fct_churn_scores
            where as_of_date = (select max(as_of_date) from marts.fct_churn_scores)
            group by 1 order by customers desc
            """
        )
        total, high = reasons["customers"].sum(), reasons["high_risk"].sum()
        groups = {"all scored": list(reasons["customers"] / total)}
        if high:
            groups["high risk"] = list(reasons["high_risk"] / high)
        parts.append(
            _safe_chart(
                lambda: svg.bar_chart(
                    list(reasons["family"]),
                    groups,
                    title="Strongest churn reason (feature family), share of customers",
                    value_format=svg.percent,
                    width=520,
                )
            )
        )
    parts.append(
        f"<details><summary>The {len(features)} features of the model</summary>"
        f'<p class="features">{escape(", ".join(features))}</p></details>'
    )
    return "".join(parts)


# ---------------------------------------------------------------- actions


def actions_section(marts: Marts) -> Section:
    title = "Action list (top 20)"
    reason = _missing_reason(marts, "fct_retention_actions")
    if reason:
        return Section("actions", title, unavailable(reason), False)
    totals = marts.one(
        "select count(*), sum(offer_cost), sum(expected_value) from marts.fct_retention_actions"
    )
    top = marts.df("select * from marts.fct_retention_actions order by action_rank limit 20")
    bases = dict(
        marts.connection.execute(
            "select value_basis, count(*) from marts.fct_retention_actions group by 1"
        ).fetchall()
        if "value_basis" in marts.columns("fct_retention_actions")
        else []
    )
    sources = (
        set(
            r[0]
            for r in marts.connection.execute(
                "select distinct score_source from marts.fct_retention_actions"
            ).fetchall()
        )
        if "score_source" in marts.columns("fct_retention_actions")
        else set()
    )
    value_text = {
        "clv": "CLV",
        "expected_orders_x_value_per_order": "expected orders × value per order (no CLV: "
        "orders without amounts)",
        "expected_orders": "expected orders only (no order has an amount and value_per_order "
        "is not set, so no money value: ranked by expected orders saved)",
    }
    valued_by = "; ".join(
        f"{value_text.get(basis, basis)} for {fmt_int(n)}" for basis, n in sorted(bases.items())
    )
    saved = (
        f"for an expected {fmt_money(totals[2])} saved "
        if not _missing(totals[2])
        else "(no money value to sum) "
    )
    source_text = (
        " P(churn) is the BG/NBD baseline, P(no purchase in the horizon): no churn model was "
        "trained this build (too few labelled rows; churn_on_insufficient_labels: skip)."
        if "btyd_p_no_purchase" in sources
        else ""
    )
    body = (
        f'<p class="note">{fmt_int(totals[0])} customers to contact within the budget: offers '
        f"cost {fmt_money(totals[1])} {saved}"
        "(P(churn) × customer value × uplift − offer cost). Customer value: "
        f"{valued_by or 'CLV'}.{source_text} Full list: marts.fct_retention_actions.</p>"
        + table_html(
            top,
            {
                "action_rank": fmt_int,
                "customer_id": str,
                "churn_probability": fmt_pct,
                "risk_tier": str,
                "clv": fmt_money,
                "expected_value": lambda v: fmt_num(v, 2),
                "offer_type": str,
                "offer_cost": lambda v: fmt_num(v, 2),
                "cumulative_cost": lambda v: fmt_num(v, 2),
                "reason": str,
            },
            {
                "action_rank": "rank",
                "customer_id": "customer",
                "churn_probability": "P(churn)",
                "risk_tier": "risk",
                "clv": "CLV",
                "expected_value": "expected value",
                "offer_type": "offer",
                "offer_cost": "cost",
                "cumulative_cost": "cumulative cost",
            },
        )
    )
    return Section("actions", title, body, True)


# ---------------------------------------------------------------- page

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',DejaVu Sans,sans-serif;margin:0;color:#1a1a1a;background:#fff}
header{background:#0b2545;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}header p{margin:0;font-size:13px;opacity:.85}
nav{padding:8px 28px;background:#eef2f7;font-size:13px}nav a{margin-right:14px;color:#0b2545}
main{padding:8px 28px 40px;max-width:1400px}
section{margin-top:22px;border-top:1px solid #ddd;padding-top:6px}
h2{font-size:19px;margin:10px 0}h3{font-size:15px;margin:18px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #d6dde6;border-radius:6px;padding:10px 14px;min-width:190px;flex:1;background:#f7f9fc}
.card-label{font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}
.card-value{font-size:26px;font-weight:600;margin:4px 0;color:#0b2545}
.card-note{font-size:12px;color:#555}
.note{font-size:13px;color:#444;max-width:1000px}
.unavailable{background:#fff7e6;border:1px solid #f0c36d;padding:8px 12px;border-radius:4px;font-size:14px}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.figure{margin:8px 0;overflow-x:auto}.figure figcaption{font-size:12px;color:#555;max-width:460px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f0f3f7}
tr.highlight td{background:#e8f1ff;font-weight:600}
table.facts th{font-weight:500;color:#444;white-space:nowrap}
.two-col{display:flex;flex-wrap:wrap;gap:24px}.two-col>table{flex:0 1 440px}.two-col>div{flex:1 1 640px;min-width:0}
.features{font-size:12px;color:#444;max-width:1000px}
footer{font-size:12px;color:#666;padding:16px 28px;border-top:1px solid #ddd}
"""


def render_html(marts: Marts, *, database_name: str, generated_at: dt.datetime) -> str:
    """The whole report as one self-contained HTML document."""
    ctx = RunContext.load(marts)
    sections = [
        summary_section(marts, ctx),
        cohort_section(marts),
        segment_section(marts),
        model_section(marts, ctx),
        actions_section(marts),
    ]
    manifest = marts.manifest
    nav = "".join(f'<a href="#{s.key}">{escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.key}" data-available="{str(s.available).lower()}">'
        f"<h2>{escape(s.title)}</h2>{s.html}</section>"
        for s in sections
    )
    used = ", ".join(f"{escape(t)} ({n:,})" for t, n in sorted(marts.tables.items()))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Retention report – {escape(database_name)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>Retention report – {escape(database_name)}</h1>"
        f"<p>Build {escape(str(manifest.get('build_id', '?')))}, published "
        f"{escape(str(manifest.get('published_at', '?'))[:19])} UTC; generated "
        f"{generated_at:%Y-%m-%d %H:%M} UTC from the published marts.</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>Source: {escape(str(marts.folder))}. Marts (rows): {used}.</footer>"
        "</body></html>\n"
    )
