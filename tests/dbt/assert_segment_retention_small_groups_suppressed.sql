{#-
    Privacy (docs/architecture.md): a segment x period with fewer than
    min_group_size eligible customers shows no count or metric, its size
    included. Group sizes are recounted from the snapshots and the segment
    assignments. Returns every row suppressed when it should not be (or the
    reverse), suppressed but showing a number, or reported with a wrong size.
-#}
{%- set min_group_size = retention.min_group_size() -%}

with

snapshots as (

    select * from {{ ref('fct_customer_snapshots') }}

),

segments as (

    select * from {{ ref('ml_customer_segments') }}

),

segment_retention as (

    select * from {{ ref('fct_segment_retention') }}

),

group_sizes as (

    select
        segments.segment_id,
        snapshots.cutoff_date,
        count(*) as customers
    from snapshots
    inner join segments
        on snapshots.customer_id = segments.customer_id
    group by 1, 2

),

violations as (

    select
        segment_retention.*,
        group_sizes.customers as recounted_customers
    from segment_retention
    left join group_sizes
        on segment_retention.segment_id = group_sizes.segment_id
            and segment_retention.period_date = group_sizes.cutoff_date
    where
        group_sizes.customers is null
        or segment_retention.is_suppressed <> (group_sizes.customers < {{ min_group_size }})
        or (
            segment_retention.is_suppressed
            and (
                segment_retention.customers is not null
                or segment_retention.active_customers is not null
                or segment_retention.churned_customers is not null
                or segment_retention.observed_churn_rate is not null
                or segment_retention.predicted_churn_rate is not null
                or segment_retention.expected_churners is not null
                or segment_retention.scored_customers is not null
                or segment_retention.revenue is not null
                or segment_retention.revenue_at_risk is not null
                or segment_retention.retention_rate is not null
            )
        )
        or (not segment_retention.is_suppressed and segment_retention.customers <> group_sizes.customers)

)

select * from violations
