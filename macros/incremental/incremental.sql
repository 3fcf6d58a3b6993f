{#-
    Incremental loading (docs/incremental.md). On DuckDB the staging checks and
    the customer-day models are `delete+insert` incrementals; on any other
    target (Spark) they are plain tables, so the same SQL runs in full there:
    `is_incremental()` is false for a table.

        {{ config(**retention.incremental_config('raw_row_id')) }}
-#}
{% macro incremental_config(unique_key) -%}
    {%- if target.type == 'duckdb' -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'delete+insert',
            'unique_key': unique_key,
            'on_schema_change': 'fail',
        }) }}
    {%- endif -%}
    {{ return({'materialized': 'table'}) }}
{%- endmacro %}

{#-
    When a row's outcome was last computed: the start of the run that wrote it.
    Downstream incrementals recompute what any row re-checked after their own
    latest `checked_at` touches.
-#}
{% macro run_checked_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}

{#-
    The earliest event time a staging batch re-reads: the latest loaded time
    that is not in the future (future rows are re-checked on every run until
    they become valid), minus `incremental_lookback_days`. An empty table
    reloads everything.
-#}
{% macro incremental_lower_bound(time_column) -%}
    (
        select
            coalesce(
                cast({{ dbt.dateadd('day', -1 * var('incremental_lookback_days'), 'max(' ~ time_column ~ ')') }} as timestamp),
                cast('1900-01-01 00:00:00' as timestamp)
            )
        from {{ this }}
        where {{ time_column }} <= {{ retention.max_valid_timestamp() }}
    )
{%- endmacro %}

{#-
    The rows a staging incremental re-checks (docs/incremental.md), as two CTEs: `in_window`,
    the typed rows dated from `incremental_lower_bound` on and every row without a usable
    time; and `batch`, those plus the older versions of every key re-sent in the window,
    which key resolution needs. In a full build both are every typed row.

        -- CTEs in_window and batch
        {{ retention.incremental_batch('typed', 'ordered_at', 'order_id') }},
-#}
{% macro incremental_batch(typed_cte, time_column, key_column) -%}
in_window as (

    select * from {{ typed_cte }}
    {% if is_incremental() -%}
        where {{ time_column }} is null or {{ time_column }} >= {{ retention.incremental_lower_bound(time_column) }}
    {%- endif %}

),

batch as (

    select * from in_window
    {% if is_incremental() %}
        union all
        -- older versions of a key re-sent in the window: key resolution needs them all
        select {{ typed_cte }}.* from {{ typed_cte }}
        where
            {{ typed_cte }}.{{ time_column }} < {{ retention.incremental_lower_bound(time_column) }}
            and {{ typed_cte }}.{{ key_column }} in (
                select in_window.{{ key_column }} from in_window where in_window.{{ time_column }} is not null
            )
    {% endif %}

)
{%- endmacro %}

{#- The latest `checked_at` this incremental has processed (null when empty). -#}
{% macro incremental_checked_watermark() -%}
    (select coalesce(max(checked_at), cast('1900-01-01 00:00:00' as timestamp)) from {{ this }})
{%- endmacro %}

{#-
    post-hook of the per-customer incrementals: a customer whose rows all went
    away (e.g. their only order was re-sent as pending) is written as one
    tombstone row, so delete+insert removes their old rows; the tombstone then
    goes too.
-#}
{% macro drop_tombstones(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ column }} is null
    {%- endif -%}
{%- endmacro %}
