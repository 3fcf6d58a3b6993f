{#-
    The definitions this build used, one row each, so a BI tool, an analyst or
    the report reads what "churned", "active" or "suppressed" meant in these
    marts instead of assuming a default (docs/architecture.md, "Definitions").
    Every value comes from the definition's one home: the cutoff spine
    (int_cutoffs_generated) and the macros in macros/definitions/. Values are
    text; the description says the unit.
-#}
{%- set churn_definition = var('churn_definition') -%}

with

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

as_of as (

    {{ retention.build_as_of_date() }}

),

latest_mature as (

    select max(case when is_latest_mature_cutoff then cutoff_date end) as cutoff_date
    from cutoffs

),

definitions as (

    select
        'as_of_date' as definition_name,
        cast(as_of.as_of_date as {{ dbt.type_string() }}) as definition_value,
        'The scoring date (a date): features use data before it, the marts describe customers as of it.'
            as description
    from as_of
    union all
    select
        'churn_definition' as definition_name,
        '{{ churn_definition }}' as definition_value,
        {% if churn_definition == 'purchase' -%}
            'purchase: a customer with a completed order before a cutoff churns with none in the horizon.'
        {%- else -%}
            'activity: active in the active_lookback_days before a cutoff; churned: no order or event in it.'
        {%- endif %} as description
    union all
    select
        'label_horizon_days' as definition_name,
        cast({{ retention.label_horizon_days() }} as {{ dbt.type_string() }}) as definition_value,
        'Days in the label window [cutoff, cutoff + horizon) that decides churn (days).' as description
    {%- if churn_definition != 'purchase' %}
        union all
        select
            'active_lookback_days' as definition_name,
            cast({{ var('active_lookback_days') }} as {{ dbt.type_string() }}) as definition_value,
            'Activity churn: a customer is labelled when active in this many days before the cutoff (days).'
                as description
    {%- endif %}
    union all
    select
        'latest_mature_cutoff_date' as definition_name,
        cast(latest_mature.cutoff_date as {{ dbt.type_string() }}) as definition_value,
        'The latest cutoff whose label window closed by as_of_date (a date): observed, backtest churn.'
            as description
    from latest_mature
    union all
    select
        'active_window_days' as definition_name,
        cast({{ retention.active_window_days() }} as {{ dbt.type_string() }}) as definition_value,
        'Active: an order or event in this many days before a date (days; dim_customers.is_active).'
            as description
    union all
    select
        'min_group_size' as definition_name,
        cast({{ retention.min_group_size() }} as {{ dbt.type_string() }}) as definition_value,
        'Rows about fewer customers than this (segments, cohorts) show no count or metric (customers).'
            as description

),

final as (

    select
        cast(definition_name as {{ dbt.type_string() }}) as definition_name,
        cast(definition_value as {{ dbt.type_string() }}) as definition_value,
        cast(description as {{ dbt.type_string() }}) as description
    from definitions

)

select * from final
