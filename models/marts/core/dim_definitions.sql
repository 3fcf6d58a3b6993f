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
        'churn_definition',
        '{{ churn_definition }}',
        {% if churn_definition == 'purchase' -%}
            'purchase: a customer with a completed order before a cutoff churns with no completed order in the label horizon.'
        {%- else -%}
            'activity: a customer active in the active_lookback_days before a cutoff churns with no order or event in the label horizon.'
        {%- endif %}
    union all
    select
        'label_horizon_days',
        cast({{ retention.label_horizon_days() }} as {{ dbt.type_string() }}),
        'Days in the label window [cutoff, cutoff + horizon) that decides churn (days).'
    {%- if churn_definition != 'purchase' %}
        union all
        select
            'active_lookback_days',
            cast({{ var('active_lookback_days') }} as {{ dbt.type_string() }}),
            'Activity churn: a customer is labelled when active in this many days before the cutoff (days).'
    {%- endif %}
    union all
    select
        'latest_mature_cutoff_date',
        cast(latest_mature.cutoff_date as {{ dbt.type_string() }}),
        'The latest cutoff whose label window has closed by as_of_date (a date): observed and backtest churn use it.'
    from latest_mature
    union all
    select
        'active_window_days',
        cast({{ retention.active_window_days() }} as {{ dbt.type_string() }}),
        'Active = an order or event in this many days before a date (days; dim_customers.is_active, fct_segment_retention.active_customers).'
    union all
    select
        'min_group_size',
        cast({{ retention.min_group_size() }} as {{ dbt.type_string() }}),
        'Rows about fewer customers than this (segments, cohorts) show no count or metric (customers).'

),

final as (

    select
        cast(definition_name as {{ dbt.type_string() }}) as definition_name,
        cast(definition_value as {{ dbt.type_string() }}) as definition_value,
        cast(description as {{ dbt.type_string() }}) as description
    from definitions

)

select * from final
