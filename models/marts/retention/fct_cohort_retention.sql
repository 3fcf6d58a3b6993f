{#-
    First-purchase cohort x period retention, weekly and monthly, following
    Amplitude/Mixpanel:
    - n_day_retention ("on period N"): members with a completed order in period N;
    - unbounded_retention ("on or after period N"): members with a completed
      order in period N or any later period that has ended by as_of_date.
    Period N is the calendar window [cohort_start + N grains, cohort_start +
    N + 1 grains), the same for every member. Members joined anywhere in the
    first grain, so period 0 is shorter for late joiners and period 1 starts
    between one day and one grain after their first order. A cell is reported
    only when its whole window ended by as_of_date (period_end_date <=
    as_of_date); otherwise the metrics are null, never 0. Cohorts smaller than
    min_group_size have every metric nulled, their size included
    (is_suppressed says why; as in dim_segments and fct_segment_retention).
-#}
{%- set max_periods = {
    'week': var('cohort_max_weeks', 52),
    'month': var('cohort_max_months', 24),
} -%}

with

customer_periods as (

    select * from {{ ref('int_customer_cohort_periods_flagged') }}

),

as_of as (

    {{ retention.build_as_of_date() }}

),

cohorts as (

    {#- Everyone has a period 0 row: the cohort is defined by its first order. -#}
    select
        cohort_grain,
        cohort_start_date,
        count(*) as cohort_customers
    from customer_periods
    where period_number = 0
    group by 1, 2

),

{% for grain, count in max_periods.items() %}
    {{ grain }}_periods as (

        {{ retention.integer_series(count + 1) }}

    ),
{% endfor %}

spine as (

    {% for grain in max_periods %}
        {%- if not loop.first %}
            union all
        {% endif %}
        select
            cohorts.cohort_grain,
            cohorts.cohort_start_date,
            cohorts.cohort_customers,
            periods.n as period_number,
            -- parenthesised: dbt-spark's dateadd multiplies the interval without brackets
            cast({{ dbt.dateadd(grain, 'periods.n', 'cohorts.cohort_start_date') }} as date) as period_start_date,
            cast({{ dbt.dateadd(grain, '(periods.n + 1)', 'cohorts.cohort_start_date') }} as date) as period_end_date
        from cohorts
        cross join {{ grain }}_periods as periods
        where cohorts.cohort_grain = '{{ grain }}'
    {% endfor %}

),

period_activity as (

    select
        cohort_grain,
        cohort_start_date,
        period_number,
        count(*) as active_customers,
        {{ retention.sum_if_known('revenue') }} as revenue
    from customer_periods
    group by 1, 2, 3

),

last_active_periods as (

    {#- Customers per cohort by their latest ended period with an order: such a
        customer is retained "on or after" every period up to that one. Counting
        per period number (not per customer) keeps the join below small. -#}
    select
        cohort_grain,
        cohort_start_date,
        last_period_number,
        count(*) as customers
    from (
        select
            customer_id,
            cohort_grain,
            cohort_start_date,
            max(period_number) as last_period_number
        from customer_periods
        where is_period_complete
        group by 1, 2, 3
    ) as customer_last_periods
    group by 1, 2, 3

),

retained_on_or_after as (

    select
        spine.cohort_grain,
        spine.cohort_start_date,
        spine.period_number,
        sum(last_active_periods.customers) as retained_customers
    from spine
    inner join last_active_periods
        on spine.cohort_grain = last_active_periods.cohort_grain
            and spine.cohort_start_date = last_active_periods.cohort_start_date
            and spine.period_number <= last_active_periods.last_period_number
    group by 1, 2, 3

),

cells as (

    select
        spine.cohort_grain,
        spine.cohort_start_date,
        spine.period_number,
        spine.period_start_date,
        spine.period_end_date,
        as_of.as_of_date,
        spine.cohort_customers,
        spine.period_end_date <= as_of.as_of_date as is_period_complete,
        {{ retention.is_small_group('spine.cohort_customers') }} as is_suppressed,
        {#- Null, not 0, until the period has ended; always null for small cohorts. #}
        spine.period_end_date <= as_of.as_of_date
        and not {{ retention.is_small_group('spine.cohort_customers') }} as is_reported,
        coalesce(period_activity.active_customers, 0) as active_customers,
        coalesce(retained_on_or_after.retained_customers, 0) as retained_customers,
        -- no active customer is 0 revenue; an order without an amount makes it unknown
        case when period_activity.cohort_grain is null then 0 else period_activity.revenue end as revenue
    from spine
    cross join as_of
    left join period_activity
        on spine.cohort_grain = period_activity.cohort_grain
            and spine.cohort_start_date = period_activity.cohort_start_date
            and spine.period_number = period_activity.period_number
    left join retained_on_or_after
        on spine.cohort_grain = retained_on_or_after.cohort_grain
            and spine.cohort_start_date = retained_on_or_after.cohort_start_date
            and spine.period_number = retained_on_or_after.period_number

),

final as (

    select
        cast(cohort_grain as {{ dbt.type_string() }}) as cohort_grain,
        cohort_start_date,
        cast(period_number as {{ dbt.type_int() }}) as period_number,
        period_start_date,
        period_end_date,
        as_of_date,
        cast(case when not is_suppressed then cohort_customers end as {{ dbt.type_bigint() }}) as cohort_customers,
        cast(case when is_reported then active_customers end as {{ dbt.type_bigint() }}) as active_customers,
        cast(case when is_reported then retained_customers end as {{ dbt.type_bigint() }})
            as retained_on_or_after_customers,
        case when is_reported then cast(active_customers as double) / cohort_customers end as n_day_retention,
        case when is_reported then cast(retained_customers as double) / cohort_customers end
            as unbounded_retention,
        case when is_reported then cast(revenue as double) end as revenue,
        is_period_complete,
        is_suppressed
    from cells

)

select * from final
