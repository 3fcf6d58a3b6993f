{#-
    Latest instant a raw timestamp may have: the build's start plus a tolerance
    for clock skew. Anything later is quarantined as `future_timestamp`.
-#}
{% macro max_valid_timestamp() -%}
    cast({{ dbt.dateadd(
        'hour',
        var('future_tolerance_hours'),
        "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)"
    ) }} as timestamp)
{%- endmacro %}

{#-
    Load order, latest first, as an ORDER BY list: the later file (files are
    deliveries, loaded in path order), then the later row in the file. Rows
    without a load position (demo seeds, a raw_schema table without _file and
    _row) fall back to their values, compared as text column by column in
    `fallback` order, greatest first: deterministic and documented, though
    arbitrary (README, "Duplicates and re-sends"). Never a hash.
-#}
{% macro load_order_desc(fallback) -%}
    source_file desc nulls last, source_row desc nulls last
    {%- for column in fallback -%}, {{ column }} desc nulls last{%- endfor -%}
{%- endmacro %}

{#-
    Give every raw row exactly one outcome. `checked_cte` has one row per raw
    row with `raw_row_hash`, its load position (`source_file`, `source_row`)
    and `row_reason` (null when the row itself is valid). On top of that:
      - a copy of a valid row that is not its latest identical copy in load
        order -> exact_duplicate;
      - among the remaining valid rows, every version of a natural key but the
        one with the latest `latest_by` (ties: the later row in load order,
        see load_order_desc) -> key_duplicate.
    Output adds `raw_row_id` (unique per raw row) and `quarantine_reason`
    (null = the row goes to staging).
-#}
{% macro resolve_duplicates(checked_cte, natural_key, latest_by, fallback) -%}
    select
        *,
        case
            when row_reason is not null then row_reason
            when exact_copy_number > 1 then 'exact_duplicate'
            when key_version_number > 1 then 'key_duplicate'
        end as quarantine_reason
    from (
        select
            *,
            cast(row_number() over (
                partition by
                    {% for column in natural_key %}{{ column }}, {% endfor -%}
                    case when row_reason is null and exact_copy_number = 1 then 1 else 0 end
                order by {% if latest_by %}{{ latest_by }} desc, {% endif %}{{ retention.load_order_desc(fallback) }}
            ) as {{ dbt.type_int() }}) as key_version_number
        from (
            select
                *,
                concat(raw_row_hash, '-', cast(exact_copy_number as {{ dbt.type_string() }})) as raw_row_id
            from (
                select
                    *,
                    cast(row_number() over (
                        partition by raw_row_hash order by {{ retention.load_order_desc([]) }}
                    ) as {{ dbt.type_int() }}) as exact_copy_number
                from {{ checked_cte }}
            ) as copies_numbered
        ) as ids_assigned
    ) as versions_numbered
{%- endmacro %}

{#-
    Natural-key expressions for rows whose key column may be missing: each of
    `columns`, but only where `key_column` is null (rows with a key are then
    keyed by it alone). Use as resolve_duplicates([key_column] + this).
-#}
{% macro when_null_key(key_column, columns) -%}
    {%- set expressions = [] -%}
    {%- for column in columns -%}
        {%- do expressions.append('case when ' ~ key_column ~ ' is null then ' ~ column ~ ' end') -%}
    {%- endfor -%}
    {{ return(expressions) }}
{%- endmacro %}
