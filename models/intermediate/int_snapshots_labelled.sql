{#-
    The churn label of every eligible customer at every cutoff: one row per
    customer x cutoff of the snapshot spine (fct_customer_snapshots reads its
    rows and labels from here). The one home of eligibility and of the label:
      - eligible (churn_definition):
          purchase: at least one completed order before the cutoff;
          activity: any order or event in [cutoff - active_lookback_days, cutoff);
      - label: activity in the label window [cutoff, cutoff + horizon),
        judged by retention.churn_label (the rule ml_churn_outcomes applies
        to monitoring's predictions too);
      - every label column is null until the window has closed by as_of_date
        (is_label_mature).
-#}

with

features as (

    select
        customer_id,
        cutoff_date,
        orders_count,
        days_since_last_activity
    from {{ ref('int_snapshots_featurized') }}

),

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

eligible as (

    select
        features.customer_id,
        features.cutoff_date as window_start_date,
        cutoffs.label_window_end_date as window_end_date,
        cutoffs.is_label_mature
    from features
    inner join cutoffs
        on features.cutoff_date = cutoffs.cutoff_date
    {%- if var('churn_definition') == 'purchase' %}
        where features.orders_count > 0
    {%- else %}
    where features.days_since_last_activity <= {{ var('active_lookback_days') }}
    {%- endif %}

),

window_activity as (

    {{ retention.label_window_activity('eligible', 'customer_days') }}

),

final as (

    select
        eligible.customer_id,
        eligible.window_start_date as cutoff_date,
        eligible.is_label_mature,
        case when eligible.is_label_mature then {{ retention.churn_label('window_activity') }} end
            as is_churned,
        case when eligible.is_label_mature
                then cast(coalesce(window_activity.orders_in_window, 0) as {{ dbt.type_int() }})
        end as orders_in_horizon,
        -- no activity in the window is 0 revenue; activity with an order without an amount is unknown
        case
            when eligible.is_label_mature and window_activity.customer_id is null then cast(0 as double)
            when eligible.is_label_mature then cast(window_activity.revenue_in_window as double)
        end as revenue_in_horizon,
        case when eligible.is_label_mature
                then cast(coalesce(window_activity.active_days_in_window, 0) as {{ dbt.type_int() }})
        end as active_days_in_horizon
    from eligible
    left join window_activity
        on eligible.customer_id = window_activity.customer_id
            and eligible.window_start_date = window_activity.window_start_date

)

select * from final
