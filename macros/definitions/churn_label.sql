{#-
    The churn label (docs/architecture.md, "Definitions"): what happened in a
    label window [window_start_date, window_end_date), and whether that is churn.
    int_snapshots_labelled applies it to every eligible customer at every cutoff,
    ml_churn_outcomes to the predictions of past scoring dates (monitoring), so
    the label of a training row and the outcome of a prediction are one rule.
-#}

{#-
    One row per window with any activity: `windows` is a relation or CTE with
    customer_id, window_start_date and window_end_date (one row per customer and
    window start); `customer_days` is int_customer_days_aggregated (or a CTE
    over it). Windows without activity have no row: left join the result and
    read a missing row as "nothing happened" (churn_label does).
-#}
{% macro label_window_activity(windows, customer_days) -%}
    select
        windows.customer_id,
        windows.window_start_date,
        sum(customer_days.completed_orders) as orders_in_window,
        {{ retention.sum_if_known('customer_days.revenue') }} as revenue_in_window,
        count(*) as active_days_in_window
    from {{ windows }} as windows
    inner join {{ customer_days }} as customer_days
        on windows.customer_id = customer_days.customer_id
            and customer_days.activity_date >= windows.window_start_date
            and customer_days.activity_date < windows.window_end_date
    group by windows.customer_id, windows.window_start_date
{%- endmacro %}

{#-
    True when the window's activity (`activity`: the alias of a left-joined
    label_window_activity row, null when there was none) is churn:
      - purchase churn: no completed order in the window;
      - activity churn: no order or event in the window.
    Callers null it while the window is still open (not mature).
-#}
{% macro churn_label(activity) -%}
    {%- if var('churn_definition') == 'purchase' -%}
        coalesce({{ activity }}.orders_in_window, 0) = 0
    {%- else -%}
        coalesce({{ activity }}.active_days_in_window, 0) = 0
    {%- endif -%}
{%- endmacro %}
