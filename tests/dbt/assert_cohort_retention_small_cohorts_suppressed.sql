{#-
    Privacy (docs/architecture.md): a cohort with fewer than min_group_size
    customers shows no count or metric, its size included. Cohort sizes are
    recounted from the customers' first periods. Returns every cell
    suppressed when it should not be (or the reverse), suppressed but showing
    a number, or reported with a wrong cohort size.
-#}
{%- set min_group_size = retention.min_group_size() -%}

with

customer_periods as (

    select * from {{ ref('int_customer_cohort_periods_flagged') }}

),

cohort_retention as (

    select * from {{ ref('fct_cohort_retention') }}

),

cohort_sizes as (

    select
        cohort_grain,
        cohort_start_date,
        count(distinct customer_id) as customers
    from customer_periods
    where period_number = 0
    group by 1, 2

),

violations as (

    select
        cohort_retention.*,
        cohort_sizes.customers as recounted_customers
    from cohort_retention
    left join cohort_sizes
        on cohort_retention.cohort_grain = cohort_sizes.cohort_grain
            and cohort_retention.cohort_start_date = cohort_sizes.cohort_start_date
    where
        cohort_sizes.customers is null
        or cohort_retention.is_suppressed <> (cohort_sizes.customers < {{ min_group_size }})
        or (
            cohort_retention.is_suppressed
            and (
                cohort_retention.cohort_customers is not null
                or cohort_retention.active_customers is not null
                or cohort_retention.retained_on_or_after_customers is not null
                or cohort_retention.n_day_retention is not null
                or cohort_retention.unbounded_retention is not null
                or cohort_retention.revenue is not null
            )
        )
        or (not cohort_retention.is_suppressed and cohort_retention.cohort_customers <> cohort_sizes.customers)

)

select * from violations
