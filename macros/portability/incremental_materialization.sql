{#-
    The materialization of a model that is incremental where the engine allows it:
    `incremental` (delete+insert with a unique_key) on DuckDB, a plain `table` on
    Spark, where delete+insert does not exist and merge needs Delta or Iceberg
    (no Delta jars here; docs/spark.md). A table build ignores is_incremental()
    blocks and incremental_strategy, so a model can say:
        {{ config(materialized=retention.incremental_materialization(),
                  incremental_strategy='delete+insert', unique_key='...') }}
-#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'retention')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}
