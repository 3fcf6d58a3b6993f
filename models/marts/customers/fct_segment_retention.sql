{#-
    Retention per segment and period. A period is a snapshot cutoff: the
    training cutoffs (every snapshot_every_days) and as_of_date. Customers are
    grouped by their segment at as_of_date, so the history shows how today's
    segments behaved before.
      - customers: eligible customers of the segment at the cutoff;
      - active_customers: those active at the cutoff: an order or event in
        the period before it ([cutoff - snapshot_every_days, cutoff); the one
        definition of "active", retention.is_active);
      - observed churn / retention: from mature labels (null while immature);
      - predicted churn: from the churn scores of that scoring date (only
        cutoffs that were scored, e.g. as_of_date);
      - revenue: completed-order revenue in the label window (observed);
      - revenue_at_risk: sum of CLV x P(churn) (scored cutoffs).
    Revenue and revenue at risk are null when any customer they cover has an
    order without an amount (README, "Orders without amounts").
    Groups smaller than min_group_size are suppressed: every count and metric,
    the group size included, is null (retention.unless_small_group, as in
    dim_segments and fct_cohort_retention).
-#}
with

snapshots as (

    select * from {{ ref('fct_customer_snapshots') }}

),

segments as (

    select * from {{ ref('ml_customer_segments') }}

),

scores as (

    select * from {{ ref('fct_churn_scores') }}

),

customer_value as (

    select * from {{ ref('ml_customer_value') }}

),

joined as (

    select
        segments.segment_id,
        segments.segment_name,
        snapshots.cutoff_date,
        snapshots.is_scoring_cutoff,
        snapshots.is_label_mature,
        snapshots.customer_id,
        {{ retention.is_active('snapshots.days_since_last_activity') }} as is_active,
        snapshots.is_churned,
        snapshots.revenue_in_horizon,
        scores.churn_probability,
        case when snapshots.is_scoring_cutoff then customer_value.clv end as clv,
        -- a buyer whose CLV could not be computed (orders without amounts)
        case
            when snapshots.is_scoring_cutoff and customer_value.customer_id is not null and customer_value.clv is null
                then 1
            else 0
        end as has_unknown_clv
    from snapshots
    inner join segments
        on snapshots.customer_id = segments.customer_id
    left join scores
        on snapshots.customer_id = scores.customer_id
            and snapshots.cutoff_date = scores.as_of_date
    left join customer_value
        on snapshots.customer_id = customer_value.customer_id
            and snapshots.cutoff_date = customer_value.as_of_date

),

aggregated as (

    select
        segment_id,
        segment_name,
        cutoff_date,
        max(case when is_scoring_cutoff then 1 else 0 end) = 1 as is_scoring_period,
        max(case when is_label_mature then 1 else 0 end) = 1 as is_label_mature,
        count(*) as customers,
        sum(case when is_active then 1 else 0 end) as active_customers,
        case when max(case when is_label_mature then 1 else 0 end) = 1
                then sum(case when is_churned then 1 else 0 end)
        end as churned_customers,
        avg(case when is_churned is not null then case when is_churned then 1.0 else 0.0 end end)
            as observed_churn_rate,
        {{ retention.exact_avg('churn_probability') }} as predicted_churn_rate,
        {{ retention.exact_sum('churn_probability') }} as expected_churners,
        count(churn_probability) as scored_customers,
        case
            when count(*) = count(revenue_in_horizon) then {{ retention.exact_sum('revenue_in_horizon') }}
        end as revenue,
        case
            when max(has_unknown_clv) = 0 then {{ retention.exact_sum('clv * churn_probability') }}
        end as revenue_at_risk
    from joined
    group by 1, 2, 3

),

final as (

    select
        md5(concat(cast(segment_id as {{ dbt.type_string() }}), '|', cast(cutoff_date as {{ dbt.type_string() }})))
            as segment_period_id,
        cast(segment_id as {{ dbt.type_int() }}) as segment_id,
        cast(segment_name as {{ dbt.type_string() }}) as segment_name,
        cutoff_date as period_date,
        is_scoring_period,
        is_label_mature,
        {{ retention.is_small_group('customers') }} as is_suppressed,
        {%- set metrics = {
            'customers': dbt.type_bigint(),
            'active_customers': dbt.type_bigint(),
            'churned_customers': dbt.type_bigint(),
            'observed_churn_rate': 'double',
            'predicted_churn_rate': 'double',
            'expected_churners': 'double',
            'scored_customers': dbt.type_bigint(),
            'revenue': 'double',
            'revenue_at_risk': 'double',
        } %}
        {%- for column, data_type in metrics.items() %}
            cast({{ retention.unless_small_group('customers', column) }} as {{ data_type }}) as {{ column }},
        {%- endfor %}
        cast({{ retention.unless_small_group(
            'customers', 'case when is_label_mature then 1 - observed_churn_rate end'
        ) }} as double) as retention_rate
    from aggregated

)

select * from final
