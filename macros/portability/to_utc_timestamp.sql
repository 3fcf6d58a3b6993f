{#-
    Parse a timestamp string (naive = UTC, or ISO 8601 with an offset such as
    `2024-03-01T12:00:00+02:00`) into a UTC timestamp without time zone.
    Unparseable text gives null, which staging turns into a quarantine reason.
    Both targets run with the session time zone set to UTC (profiles.yml).
-#}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'retention')(expression)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expression) -%}
    {{ retention.try_cast(expression, 'timestamp') }}
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(expression) -%}
    cast(timezone('UTC', try_cast({{ expression }} as timestamptz)) as timestamp)
{%- endmacro %}
