{#-
    What happened in each cutoff's label window, [cutoff, cutoff + horizon),
    for every customer active in it. Customers with no activity in the window
    have no row here (the snapshot mart reads that as "nothing happened").
    Immature windows are still counted; the mart turns their labels into null.
-#}
with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

final as (

    select
        customer_days.customer_id,
        cutoffs.cutoff_date,
        sum(customer_days.completed_orders) as orders_in_horizon,
        {{ retention.sum_if_known('customer_days.revenue') }} as revenue_in_horizon,
        count(*) as active_days_in_horizon
    from customer_days
    inner join cutoffs
        on customer_days.activity_date >= cutoffs.cutoff_date
            and customer_days.activity_date < cutoffs.label_window_end_date
    group by 1, 2

)

select * from final
