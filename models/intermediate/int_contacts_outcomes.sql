{#-
    The experiment spine of past campaigns (issue 18): one row per contact or
    control row of the contacts source, with what the customer looked like
    just before the contact and what they did in the outcome window
    [contacted_at, contacted_at + uplift_horizon_days).

    - Pre-contact history reads completed orders strictly before contacted_at,
      outcomes only orders at or after it: the same point-in-time rule as the
      churn spine (a cutoff's day belongs to the label, never the features).
    - An outcome is mature when its window has ended by as_of_date; an
      immature row has no outcome (null), never a "not retained".
    - Control rows were held out at random and not contacted: comparing them
      with the treatment rows of the same campaign measures the contact's
      effect (fct_campaign_results).
-#}
{{ config(enabled=var('enable_contacts')) }}
{%- set horizon_seconds = var('uplift_horizon_days') * 86400 -%}

with

contacts as (

    select * from {{ ref('stg_shop__contacts') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where is_completed

),

as_of as (

    {{ retention.build_as_of_date() }}

),

contact_orders as (

    select
        contacts.contact_id,
        {{ retention.epoch_seconds('orders.ordered_at') }}
            - {{ retention.epoch_seconds('contacts.contacted_at') }} as seconds_from_contact,
        orders.ordered_date,
        orders.order_total
    from contacts
    inner join orders
        on contacts.customer_id = orders.customer_id

),

history as (

    select
        contact_id,
        count(*) as orders_before_contact,
        max(ordered_date) as last_order_date_before_contact
    from contact_orders
    where seconds_from_contact < 0
    group by contact_id

),

outcomes as (

    select
        contact_id,
        count(*) as orders_in_window,
        -- null when an order in the window has no amount (README, "Orders without amounts")
        case when count(*) = count(order_total) then sum(order_total) end as revenue_in_window
    from contact_orders
    where seconds_from_contact >= 0 and seconds_from_contact < {{ horizon_seconds }}
    group by contact_id

),

windows as (

    select
        contacts.*,
        {{ retention.epoch_seconds('contacts.contacted_at') }} + {{ horizon_seconds }}
            <= {{ retention.epoch_seconds('cast(as_of.as_of_date as timestamp)') }} as is_outcome_mature
    from contacts
    cross join as_of
    -- contacts on or after as_of_date are in this build's future
    where contacts.contacted_date < as_of.as_of_date

),

final as (

    select
        ---------- ids
        windows.contact_id,
        windows.customer_id,
        windows.campaign_id,

        ---------- the contact
        windows.contacted_at,
        windows.contacted_date,
        windows.assignment,
        windows.is_treatment,
        windows.offer_type,
        windows.offer_cost,
        windows.channel,

        ---------- before the contact
        coalesce(history.orders_before_contact, 0) as orders_before_contact,
        {{ dbt.datediff('history.last_order_date_before_contact', 'windows.contacted_date', 'day') }}
            as days_since_last_order_at_contact,

        ---------- the outcome window: null until it has ended by as_of_date
        windows.is_outcome_mature,
        case when windows.is_outcome_mature then coalesce(outcomes.orders_in_window, 0) end
            as orders_in_window,
        case
            when windows.is_outcome_mature
                then case when outcomes.contact_id is null then 0 else 1 end
        end as is_retained,
        case
            when windows.is_outcome_mature
                then case when outcomes.contact_id is null then 0 else outcomes.revenue_in_window end
        end as revenue_in_window

    from windows
    left join history
        on windows.contact_id = history.contact_id
    left join outcomes
        on windows.contact_id = outcomes.contact_id

)

select * from final
