{#-
    Nothing is dropped silently: per enabled source, raw rows = clean rows +
    quarantined rows. Counts come straight from the staging models (not from
    fct_source_quality), so this also runs with only staging selected.
    Returns one row per source that does not reconcile.
-#}
{%- set tables = retention.enabled_shop_tables() -%}

with

{% for table in tables %}
    raw_{{ table }} as (

        select * from {{ ref('base_shop__' ~ table) }}

    ),

    clean_{{ table }} as (

        select * from {{ ref('stg_shop__' ~ table) }}

    ),

{% endfor %}
quarantined_rows as (

    select * from {{ ref('stg_shop__quarantined_rows') }}

),

counts as (

    {% for table in tables %}
        select
            '{{ table }}' as source_table,
            (select count(*) from raw_{{ table }}) as raw_row_count,
            (select count(*) from clean_{{ table }}) as clean_row_count,
            (
                select count(*) from quarantined_rows
                where quarantined_rows.source_table = '{{ table }}'
            ) as quarantined_row_count
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select *
    from counts
    where raw_row_count <> clean_row_count + quarantined_row_count

)

select * from final
