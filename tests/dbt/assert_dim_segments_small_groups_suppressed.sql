{#-
    Privacy (docs/architecture.md): a segment smaller than min_group_size shows its
    id and name only. Returns every segment that is suppressed when it should
    not be (or the reverse), or that shows a metric while suppressed, or a
    churn rate computed on fewer than min_group_size customers.
-#}
{%- set min_group_size = retention.min_group_size() -%}

with

segments as (

    select * from {{ ref('dim_segments') }}

),

profiles as (

    select
        segment_id,
        customers
    from {{ ref('ml_segment_profiles') }}

),

violations as (

    select segments.*
    from segments
    inner join profiles
        on segments.segment_id = profiles.segment_id
    where
        segments.is_suppressed <> (profiles.customers < {{ min_group_size }})
        or (
            segments.is_suppressed
            and (
                segments.description is not null
                or segments.customers is not null
                or segments.share_of_customers is not null
                or segments.mean_days_since_last_order is not null
                or segments.mean_orders_count is not null
                or segments.mean_revenue_total is not null
                or segments.mean_avg_order_value is not null
                or segments.mean_days_since_first_order is not null
                or segments.labelled_customers is not null
                or segments.observed_churn_rate is not null
                or segments.backtest_labelled_customers is not null
                or segments.backtest_churn_rate is not null
                or segments.scored_customers is not null
                or segments.predicted_churn_rate is not null
            )
        )
        or (not segments.is_suppressed and segments.customers < {{ min_group_size }})
        or (segments.observed_churn_rate is not null and segments.labelled_customers < {{ min_group_size }})
        or (segments.backtest_churn_rate is not null and segments.backtest_labelled_customers < {{ min_group_size }})
        or (segments.predicted_churn_rate is not null and segments.scored_customers < {{ min_group_size }})

)

select * from violations
