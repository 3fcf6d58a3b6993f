{#-
    `name as {{ retention.inline_cte() }} (...)`: ask the engine to compute a CTE
    at each reference instead of storing it. DuckDB stores (materializes) a CTE that
    is referenced more than once; for the checked raw rows of a large table that
    is every column of every row, which spilled more than 25 GB at 100M events.
    Recomputing them from the files streams instead (resolve_duplicates reads them
    four times: two narrow aggregates and the two branches of the final pass,
    ranked and not ranked). The same holds for
    the raw rows a checked model reads twice (a one-column presence check and
    the typed pass, which then reads only the columns it needs). Spark inlines
    CTEs already and has no such keyword.
-#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'retention')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}
