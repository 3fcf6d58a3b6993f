{#-
    Seconds since 1970-01-01 for a timestamp, for sub-day differences
    (dbt.datediff is only portable for days and longer; docs/style.md).
-#}
{% macro epoch_seconds(expression) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'retention')(expression)) }}
{%- endmacro %}

{% macro default__epoch_seconds(expression) -%}
    cast(unix_timestamp({{ expression }}) as bigint)
{%- endmacro %}

{% macro duckdb__epoch_seconds(expression) -%}
    cast(date_part('epoch', {{ expression }}) as bigint)
{%- endmacro %}
