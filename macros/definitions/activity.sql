{#-
    "Active" (docs/architecture.md, "Definitions"): a customer with any order
    or event in the snapshot_every_days days before a date, [date - N, date),
    i.e. days_since_last_activity <= N (days_since_last_activity counts from
    the day before the date as 1). The period of the snapshot spine is the
    window, so an active count per period adds up to "active in that period".
    fct_segment_retention (active_customers, and the MetricFlow metric over
    it) and dim_customers.is_active (the report's "Active customers") use it.
-#}
{% macro is_active(days_since_last_activity) -%}
    coalesce({{ days_since_last_activity }} <= {{ retention.active_window_days() }}, false)
{%- endmacro %}

{% macro active_window_days() -%}
    {{ return(var('snapshot_every_days')) }}
{%- endmacro %}
