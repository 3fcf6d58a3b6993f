{#-
    One row per customer x cohort grain (week, month) x period in which the
    customer made a completed order before as_of_date. The cohort is the
    calendar week (Monday) or month of the first completed order; period N is
    the calendar window [cohort_start + N grains, cohort_start + N + 1 grains),
    the same window for every member of the cohort. is_period_complete flags
    windows that ended by as_of_date (data covers days < as_of_date), so
    fct_cohort_retention never reports a window still in progress.
-#}
{%- set grains = ['week', 'month'] -%}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}
    where completed_orders > 0

),

as_of as (

    {{ retention.build_as_of_date() }}

),

purchase_days as (

    {#- Point in time: a build with an earlier as_of_date ignores later orders. -#}
    select
        customer_days.customer_id,
        customer_days.activity_date,
        customer_days.completed_orders,
        customer_days.revenue,
        as_of.as_of_date
    from customer_days
    cross join as_of
    where customer_days.activity_date < as_of.as_of_date

),

first_purchases as (

    select
        customer_id,
        min(activity_date) as first_purchase_date
    from purchase_days
    group by 1

),

purchase_periods as (

    {% for grain in grains %}
        {%- if not loop.first %}
            union all
        {% endif %}
        select
            purchase_days.customer_id,
            '{{ grain }}' as cohort_grain,
            cast({{ dbt.date_trunc(grain, 'first_purchases.first_purchase_date') }} as date) as cohort_start_date,
            cast({{ dbt.date_trunc(grain, 'purchase_days.activity_date') }} as date) as period_start_date,
            cast({{ dbt.dateadd(grain, 1, dbt.date_trunc(grain, 'purchase_days.activity_date')) }} as date)
                as period_end_date,
            purchase_days.as_of_date,
            purchase_days.completed_orders,
            purchase_days.revenue
        from purchase_days
        inner join first_purchases
            on purchase_days.customer_id = first_purchases.customer_id
    {% endfor %}

),

customer_periods as (

    select
        customer_id,
        cohort_grain,
        cohort_start_date,
        period_start_date,
        period_end_date,
        as_of_date,
        sum(completed_orders) as completed_orders,
        {{ retention.sum_if_known('revenue') }} as revenue
    from purchase_periods
    group by 1, 2, 3, 4, 5, 6

),

final as (

    select
        customer_id,
        cohort_grain,
        cohort_start_date,
        {#- Both dates are truncated to the grain, so the difference is exact. #}
        cast(case cohort_grain
            {%- for grain in grains %}
                when '{{ grain }}' then {{ dbt.datediff('cohort_start_date', 'period_start_date', grain) }}
            {%- endfor %}
        end as {{ dbt.type_int() }}) as period_number,
        period_start_date,
        period_end_date,
        as_of_date,
        period_end_date <= as_of_date as is_period_complete,
        cast(completed_orders as {{ dbt.type_bigint() }}) as completed_orders,
        -- decimal, not double: a sum of doubles depends on the order rows arrive in,
        -- so reruns would differ in the last bit
        cast(revenue as decimal(18, 2)) as revenue
    from customer_periods

)

select * from final
