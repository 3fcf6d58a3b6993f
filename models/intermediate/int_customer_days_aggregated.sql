{#-
    One row per customer and day with any activity: orders, revenue, items,
    discounts, returns, cancellations, sessions and events by type. Every
    windowed feature and every label is computed from this table, never by
    rescanning raw events per cutoff. Families whose source is switched off
    are left out, not filled with zeros.

    Incremental on DuckDB (docs/incremental.md): a run recomputes every day of
    every customer touched by a staging row (order, order line or event)
    re-checked since this table's last run. Whole customers, because the gap
    to the previous purchase day reaches back past any window.
-#}
{{ config(
    post_hook="{{ retention.drop_tombstones('activity_date') }}",
    **retention.incremental_config('customer_id')
) }}
-- depends_on: {{ ref('base_shop__orders_checked') }}
{% if var('enable_order_items') -%}
-- depends_on: {{ ref('base_shop__order_items_checked') }}
{% endif -%}
{% if var('enable_events') -%}
-- depends_on: {{ ref('base_shop__events_checked') }}
-- depends_on: {{ ref('stg_shop__events') }}
{% endif %}
{%- set order_measures = [
    'completed_orders', 'placed_orders', 'cancelled_orders', 'returned_orders',
    'revenue', 'discount_amount', 'discounted_orders',
] -%}
{%- set item_measures = ['items_purchased'] if var('enable_order_items') else [] -%}
{%- set event_measures = [
    'events', 'sessions', 'page_views', 'product_views', 'searches',
    'add_to_carts', 'begin_checkouts', 'purchase_events',
] if var('enable_events') else [] -%}
{%- set measures = order_measures + item_measures + event_measures -%}
{%- set amount_measures = ['revenue', 'discount_amount'] -%}

with

{% if is_incremental() %}
    touched_customers as (

        select customer_id from {{ ref('base_shop__orders_checked') }}
        where checked_at > {{ retention.incremental_checked_watermark() }}
        {% if var('enable_order_items') %}
            union
            select stg_orders.customer_id
            from {{ ref('base_shop__order_items_checked') }} as checked_items
            inner join {{ ref('stg_shop__orders') }} as stg_orders
                on checked_items.order_id = stg_orders.order_id
            where checked_items.checked_at > {{ retention.incremental_checked_watermark() }}
        {% endif %}
        {% if var('enable_events') %}
            union
            select customer_id from {{ ref('base_shop__events_checked') }}
            where checked_at > {{ retention.incremental_checked_watermark() }}
        {% endif %}

    ),
{% endif %}

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where status <> 'pending'
    {% if is_incremental() -%}
        and customer_id in (select touched_customers.customer_id from touched_customers)
    {%- endif %}

),

{% if var('enable_order_items') %}
    order_items as (

        select * from {{ ref('stg_shop__order_items') }}

    ),
{% endif %}

{% if var('enable_events') %}
    events as (

        {% if is_incremental() -%}
            -- the touched customers' sessions, filtered below the sessionizing windows
            {{ retention.sessionized_events(customers='touched_customers') }}
        {%- else -%}
            select * from {{ ref('int_events_sessionized') }}
        {%- endif %}

    ),
{% endif %}

order_days as (

    select
        customer_id,
        ordered_date as activity_date,
        sum(case when is_completed then 1 else 0 end) as completed_orders,
        count(*) as placed_orders,
        sum(case when is_cancelled then 1 else 0 end) as cancelled_orders,
        sum(case when is_returned then 1 else 0 end) as returned_orders,
        -- null when a completed order of the day has no amount (README, "Orders without amounts")
        {{ retention.sum_if_known('case when is_completed then order_total else 0 end') }} as revenue,
        sum(case when is_completed then discount_amount else 0 end) as discount_amount,
        sum(case when is_completed and (discount_amount > 0 or has_coupon) then 1 else 0 end)
            as discounted_orders
    from orders
    group by 1, 2

),

{% if var('enable_order_items') %}
    item_days as (

        select
            orders.customer_id,
            orders.ordered_date as activity_date,
            sum(order_items.quantity) as items_purchased
        from order_items
        inner join orders
            on order_items.order_id = orders.order_id
        where orders.is_completed
        group by 1, 2

    ),
{% endif %}

{% if var('enable_events') %}
    -- Sessions per day without count(distinct): events are first grouped per customer, day
    -- and session, then those groups are counted. Two plain aggregates spill to disk;
    -- a distinct aggregate over 100M events ran out of memory at 8GB.
    session_days as (

        select
            customer_id,
            event_date as activity_date,
            session_key,
            count(*) as events,
            sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
            sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
            sum(case when event_type = 'search' then 1 else 0 end) as searches,
            sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
            sum(case when event_type = 'begin_checkout' then 1 else 0 end) as begin_checkouts,
            sum(case when event_type = 'purchase' then 1 else 0 end) as purchase_events
        from events
        group by 1, 2, 3

    ),

    event_days as (

        select
            customer_id,
            activity_date,
            sum(events) as events,
            count(session_key) as sessions,
            sum(page_views) as page_views,
            sum(product_views) as product_views,
            sum(searches) as searches,
            sum(add_to_carts) as add_to_carts,
            sum(begin_checkouts) as begin_checkouts,
            sum(purchase_events) as purchase_events
        from session_days
        group by 1, 2

    ),
{% endif %}

{%- set parts = [('order_days', order_measures), ('item_days', item_measures), ('event_days', event_measures)] %}

unioned as (

    {% for cte, cte_measures in parts if cte_measures %}
        {%- if not loop.first %}
            union all
        {% endif %}
        select
            customer_id,
            activity_date,
            {%- for measure in measures %}
                {% if measure in cte_measures %}{{ measure }}{% else %}0{% endif %} as {{ measure }}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ cte }}
    {% endfor %}

),

customer_days as (

    -- counts as 64-bit integers: DuckDB sums integers into 128-bit ones, and every feature
    -- sum reads them (the feature mart's aggregate took half the time on 64-bit columns)
    select
        customer_id,
        activity_date,
        {%- for measure in measures %}
            {% if measure == 'revenue' -%}
                {{ retention.sum_if_known(measure) }}
            {%- elif measure in amount_measures -%}
                sum({{ measure }})
            {%- else -%}
                cast(sum({{ measure }}) as {{ dbt.type_bigint() }})
            {%- endif %} as {{ measure }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from unioned
    group by 1, 2

),

order_gaps as (

    {#- Days since the previous purchase day, on purchase days only. A day's
        previous purchase day is always earlier, so features that read gaps
        before a cutoff never see the future. -#}
    select
        customer_id,
        activity_date,
        {{ dbt.datediff(
            'lag(activity_date) over (partition by customer_id order by activity_date)',
            'activity_date',
            'day'
        ) }} as days_since_previous_order_day
    from customer_days
    where completed_orders > 0

),

final as (

    select
        customer_days.*,
        cast(order_gaps.days_since_previous_order_day as {{ dbt.type_int() }})
            as days_since_previous_order_day,
        {{ retention.run_checked_at() }} as checked_at
    from customer_days
    left join order_gaps
        on customer_days.customer_id = order_gaps.customer_id
            and customer_days.activity_date = order_gaps.activity_date
    {% if is_incremental() %}
        union all
        -- tombstone: a touched customer with no activity left (dropped by the post-hook)
        select
            touched_customers.customer_id,
            cast(null as date) as activity_date,
            {%- for measure in measures %}
                null as {{ measure }},
            {%- endfor %}
            cast(null as {{ dbt.type_int() }}) as days_since_previous_order_day,
            {{ retention.run_checked_at() }} as checked_at
        from touched_customers
        where
            touched_customers.customer_id is not null
            and touched_customers.customer_id not in (
                select customer_days.customer_id from customer_days
            )
    {% endif %}

)

select * from final
