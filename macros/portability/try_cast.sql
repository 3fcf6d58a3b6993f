{#-
    A cast that yields null instead of failing. dbt.safe_cast is not safe on
    DuckDB or Spark (docs/style.md); both engines accept `try_cast`.
-#}
{% macro try_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'retention')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
