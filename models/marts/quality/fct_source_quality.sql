{#-
    Data quality per raw table: how many raw rows reached staging ('clean') and
    how many were quarantined, per reason. Every enabled source has a 'clean'
    row, also when it is empty, so a source that delivered nothing shows up.
    Raw, clean and quarantined counts come from three different models, so
    sum(row_count) = raw_row_count per source is a real check (tested).
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

raw_counts as (

    {% for table in tables %}
        select
            '{{ table }}' as source_table,
            count(*) as raw_row_count
        from raw_{{ table }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

outcome_counts as (

    {% for table in tables %}
        select
            '{{ table }}' as source_table,
            'clean' as outcome,
            count(*) as row_count,
            {%- if table == 'orders' %}
                sum(case when order_total is null then 1 else 0 end) as without_amount_count
            {%- else %}
                cast(null as {{ dbt.type_bigint() }}) as without_amount_count
            {%- endif %}
        from clean_{{ table }}

        union all
    {% endfor %}

    select
        source_table,
        quarantine_reason as outcome,
        count(*) as row_count,
        cast(null as {{ dbt.type_bigint() }}) as without_amount_count
    from quarantined_rows
    group by source_table, quarantine_reason

),

final as (

    select
        cast(outcome_counts.source_table as {{ dbt.type_string() }}) as source_table,
        cast(outcome_counts.outcome as {{ dbt.type_string() }}) as outcome,
        outcome_counts.outcome <> 'clean' as is_quarantined,
        cast(outcome_counts.row_count as {{ dbt.type_bigint() }}) as row_count,
        cast(raw_counts.raw_row_count as {{ dbt.type_bigint() }}) as raw_row_count,
        cast(outcome_counts.without_amount_count as {{ dbt.type_bigint() }}) as without_amount_count

    from outcome_counts
    inner join raw_counts
        on outcome_counts.source_table = raw_counts.source_table

)

select * from final
