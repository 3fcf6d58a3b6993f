{#-
    Segment totals equal customer totals at as_of_date (the scoring period):
    per segment, fct_segment_retention's customers, expected churners and
    revenue at risk equal dim_customers' scored customers of that segment.
    Suppression is accounted for, not hidden: a suppressed segment must have
    fewer than min_group_size customers in dim_customers, so the unsuppressed
    rows plus the suppressed segments' dim_customers counts make up the whole
    customer total. Returns one row per segment that does not reconcile.
-#}
{%- set min_group_size = retention.min_group_size() -%}

with

customers as (

    select * from {{ ref('dim_customers') }}
    where is_eligible_for_scoring and segment_id is not null

),

segment_retention as (

    select * from {{ ref('fct_segment_retention') }}
    where is_scoring_period

),

customer_totals as (

    select
        segment_id,
        count(*) as customers,
        coalesce(sum(churn_probability), 0) as expected_churners,
        coalesce(sum(revenue_at_risk), 0) as revenue_at_risk
    from customers
    group by 1

),

compared as (

    select
        coalesce(segment_retention.segment_id, customer_totals.segment_id) as segment_id,
        segment_retention.is_suppressed,
        segment_retention.customers as segment_customers,
        customer_totals.customers as dim_customers,
        segment_retention.expected_churners as segment_expected_churners,
        customer_totals.expected_churners as dim_expected_churners,
        segment_retention.revenue_at_risk as segment_revenue_at_risk,
        customer_totals.revenue_at_risk as dim_revenue_at_risk
    from segment_retention
    full outer join customer_totals
        on segment_retention.segment_id = customer_totals.segment_id

),

violations as (

    select *
    from compared
    where
        is_suppressed is null
        or dim_customers is null
        or (is_suppressed and dim_customers >= {{ min_group_size }})
        or (
            not is_suppressed
            and (
                segment_customers <> dim_customers
                or abs(coalesce(segment_expected_churners, 0) - dim_expected_churners)
                > 1e-6 * (1 + abs(dim_expected_churners))
                or abs(coalesce(segment_revenue_at_risk, 0) - dim_revenue_at_risk)
                > 1e-6 * (1 + abs(dim_revenue_at_risk))
            )
        )

)

select * from violations
