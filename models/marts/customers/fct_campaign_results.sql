{#-
    What each past campaign did, measured against its own random control group
    (issue 18): per campaign, offer and pre-contact recency band (plus an 'all'
    band), the retention rate and revenue per customer in the outcome window
    [contacted_at, contacted_at + uplift_horizon_days) of the treated rows
    against the campaign's control rows, their difference (the average
    treatment effect, unbiased because the control was held out at random) and
    a 95% normal-approximation interval (Wald for the retention difference,
    Welch for revenue).

    Only contacts whose outcome window has ended by as_of_date count. Rows with
    fewer than min_group_size customers in either arm are suppressed, like
    every group-level mart. A campaign that tested several offers has one row
    per offer, each against the same control group.
-#}
{#- off on Spark like every mart in marts/customers (dbt_project.yml): a file's config wins over the folder's -#}
{{ config(enabled=var('enable_contacts') and target.type != 'spark') }}
{%- set z = 1.959964 -%}

with

outcomes as (

    select * from {{ ref('int_contacts_outcomes') }}
    where is_outcome_mature

),

banded as (

    select
        *,
        case
            when days_since_last_order_at_contact is null then 'no_prior_order'
            when days_since_last_order_at_contact <= 45 then 'recent'
            when days_since_last_order_at_contact <= 240 then 'lapsing'
            else 'lapsed'
        end as recency_band
    from outcomes

),

bands as (

    select
        campaign_id,
        recency_band,
        contacted_date,
        is_treatment,
        offer_type,
        offer_cost,
        is_retained,
        revenue_in_window
    from banded

    union all

    select
        campaign_id,
        'all' as recency_band,
        contacted_date,
        is_treatment,
        offer_type,
        offer_cost,
        is_retained,
        revenue_in_window
    from banded

),

arms as (

    select
        campaign_id,
        recency_band,
        is_treatment,
        case when is_treatment then offer_type end as offer_type,
        min(contacted_date) as first_contact_date,
        count(*) as customers,
        sum(is_retained) as retained_customers,
        avg(cast(offer_cost as double)) as offer_cost_mean,
        count(revenue_in_window) as customers_with_revenue,
        sum(cast(revenue_in_window as double)) as revenue_sum,
        sum(cast(revenue_in_window as double) * cast(revenue_in_window as double)) as revenue_sum_squares
    from bands
    group by
        campaign_id,
        recency_band,
        is_treatment,
        case when is_treatment then offer_type end

),

paired as (

    select
        treated.campaign_id,
        treated.offer_type,
        treated.recency_band,
        least(treated.first_contact_date, control.first_contact_date) as campaign_date,
        treated.customers as treated_customers,
        control.customers as control_customers,
        treated.offer_cost_mean,
        treated.retained_customers * 1.0 / treated.customers as retention_rate_treated,
        control.retained_customers * 1.0 / control.customers as retention_rate_control,
        treated.revenue_sum / nullif(treated.customers_with_revenue, 0) as revenue_per_customer_treated,
        control.revenue_sum / nullif(control.customers_with_revenue, 0) as revenue_per_customer_control,
        -- sample variances of revenue per customer, from exact sums
        (treated.revenue_sum_squares - treated.revenue_sum * treated.revenue_sum / nullif(treated.customers_with_revenue, 0))
            / nullif(treated.customers_with_revenue - 1, 0) as revenue_variance_treated,
        (control.revenue_sum_squares - control.revenue_sum * control.revenue_sum / nullif(control.customers_with_revenue, 0))
            / nullif(control.customers_with_revenue - 1, 0) as revenue_variance_control,
        treated.customers_with_revenue as treated_customers_with_revenue,
        control.customers_with_revenue as control_customers_with_revenue
    from arms as treated
    inner join arms as control
        on treated.campaign_id = control.campaign_id
        and treated.recency_band = control.recency_band
        and not control.is_treatment
    where treated.is_treatment
        and not {{ retention.is_small_group('treated.customers') }}
        and not {{ retention.is_small_group('control.customers') }}

),

effects as (

    select
        *,
        retention_rate_treated - retention_rate_control as retention_effect,
        sqrt(
            retention_rate_treated * (1 - retention_rate_treated) / treated_customers
            + retention_rate_control * (1 - retention_rate_control) / control_customers
        ) as retention_effect_std_error,
        revenue_per_customer_treated - revenue_per_customer_control as revenue_effect,
        sqrt(
            greatest(revenue_variance_treated, 0) / treated_customers_with_revenue
            + greatest(revenue_variance_control, 0) / control_customers_with_revenue
        ) as revenue_effect_std_error
    from paired

),

final as (

    select
        ---------- grain
        campaign_id,
        offer_type,
        recency_band,
        campaign_date,

        ---------- arms
        treated_customers,
        control_customers,
        offer_cost_mean,

        ---------- retention in the outcome window
        retention_rate_treated,
        retention_rate_control,
        retention_effect,
        retention_effect - {{ z }} * retention_effect_std_error as retention_effect_ci_low,
        retention_effect + {{ z }} * retention_effect_std_error as retention_effect_ci_high,

        ---------- revenue per customer in the outcome window
        revenue_per_customer_treated,
        revenue_per_customer_control,
        revenue_effect,
        revenue_effect - {{ z }} * revenue_effect_std_error as revenue_effect_ci_low,
        revenue_effect + {{ z }} * revenue_effect_std_error as revenue_effect_ci_high,
        revenue_effect - offer_cost_mean as net_revenue_per_contact,

        ---------- verdict
        retention_effect - {{ z }} * retention_effect_std_error > 0
            or retention_effect + {{ z }} * retention_effect_std_error < 0 as is_retention_effect_significant

    from effects

)

select * from final
