{#-
    The point-in-time features: one row per customer x cutoff, for every
    customer with any activity before the cutoff. The one definition of the
    features, used by the churn spine (int_snapshots_featurized, cutoffs from
    int_cutoffs_generated) and the campaign spine (int_contacts_featurized,
    cutoffs at the contact days). Only days strictly before the cutoff are
    read (`activity_date < cutoff_date`): a day at the cutoff belongs to the
    label or the outcome window, never to the features.
    Window w covers [cutoff - w, cutoff): days_before_cutoff in 1..w.

    cutoffs: a relation (or parenthesised query) with a cutoff_date column.
    customers: optional relation with a customer_id column; when given, only
    those customers' rows are read.
-#}
{% macro snapshot_features(cutoffs, customers=none) -%}
{%- set windows = var('feature_windows_days') -%}
{%- set trend_windows = var('trend_windows_days') -%}
{%- set funnel_window = var('funnel_window_days') -%}
{%- set has_events = var('enable_events') -%}
{%- set has_items = var('enable_order_items') -%}
{%- set has_categories = var('enable_order_items') and var('enable_products') -%}
{#- a purchase day's gap to the previous one, as an integer (exact sums) -#}
{%- set order_gap = 'case when completed_orders > 0 then cast(days_since_previous_order_day as '
    ~ dbt.type_bigint() ~ ') end' -%}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}
    {%- if customers is not none %}
    where customer_id in (select customer_id from {{ customers }})
    {%- endif %}

),

cutoffs as (

    select * from {{ cutoffs }}

),

{% if has_categories %}
    category_days as (

        select * from {{ ref('int_customer_category_days_aggregated') }}
        {%- if customers is not none %}
        where customer_id in (select customer_id from {{ customers }})
        {%- endif %}

    ),
{% endif %}

history as (

    select
        cutoffs.cutoff_date,
        customer_days.*,
        {{ dbt.datediff('customer_days.activity_date', 'cutoffs.cutoff_date', 'day') }}
            as days_before_cutoff
    from customer_days
    inner join cutoffs
        on customer_days.activity_date < cutoffs.cutoff_date

),

aggregated as (

    select
        customer_id,
        cutoff_date,

        ---------- recency and tenure
        min(case when completed_orders > 0 then days_before_cutoff end) as days_since_last_order,
        max(case when completed_orders > 0 then days_before_cutoff end) as days_since_first_order,
        min(days_before_cutoff) as days_since_last_activity,
        max(days_before_cutoff) as days_since_first_activity,

        ---------- frequency and monetary
        sum(completed_orders) as orders_count,
        sum(case when completed_orders > 0 then 1 else 0 end) as order_days_count,
        -- amounts: null when any completed order they cover has no amount (README, "Orders without amounts")
        {{ retention.sum_if_known('revenue') }} as revenue_total,
        sum(placed_orders) as placed_orders_count,
        sum(cancelled_orders) as cancelled_orders_count,
        sum(returned_orders) as returned_orders_count,
        sum(discount_amount) as discount_total,
        sum(discounted_orders) as discounted_orders_count,
        {%- if has_items %}
            sum(items_purchased) as items_purchased_total,
        {%- endif %}

        ---------- inter-purchase gaps (gaps between purchase days, all before the cutoff)
        avg(case when completed_orders > 0 then days_since_previous_order_day end) as order_gap_mean_days,
        {#- The sample standard deviation from exact integer sums. stddev_samp on DuckDB
            combines parallel partial states in no fixed order, so two builds of the same
            data differed in the last bit, and so did every model trained on it. -#}
        case
            when count({{ order_gap }}) > 1
                then sqrt(
                        cast(
                            count({{ order_gap }}) * sum({{ order_gap }} * {{ order_gap }})
                            - sum({{ order_gap }}) * sum({{ order_gap }}) as double
                        )
                        / (count({{ order_gap }}) * (count({{ order_gap }}) - 1))
                    )
        end as order_gap_stddev_days,

        ---------- windows
        {%- for w in windows %}
            sum(case when days_before_cutoff <= {{ w }} then completed_orders else 0 end) as orders_{{ w }}d,
            -- null like revenue_total: a customer's spend features are all unknown or all known
            case when count(*) = count(revenue)
                    then sum(case when days_before_cutoff <= {{ w }} then revenue else 0 end)
            end as revenue_{{ w }}d,
            {%- if has_events %}
                sum(case when days_before_cutoff <= {{ w }} then sessions else 0 end) as sessions_{{ w }}d,
                sum(case when days_before_cutoff <= {{ w }} then events else 0 end) as events_{{ w }}d,
            {%- endif %}
        {%- endfor %}

        ---------- the window before each trend window
        {%- for w in trend_windows %}
            sum(case when days_before_cutoff > {{ w }} and days_before_cutoff <= {{ 2 * w }}
                    then completed_orders
                else 0
            end) as orders_prev_{{ w }}d,
            {%- if has_events %}
                sum(case when days_before_cutoff > {{ w }} and days_before_cutoff <= {{ 2 * w }}
                        then sessions
                    else 0
                end) as sessions_prev_{{ w }}d,
            {%- endif %}
        {%- endfor %}

        {%- if has_events %}

        ---------- funnel and sessions
            min(case when sessions > 0 then days_before_cutoff end) as days_since_last_session,
            sum(case when days_before_cutoff <= {{ funnel_window }} then product_views else 0 end)
                as product_views_{{ funnel_window }}d,
            sum(case when days_before_cutoff <= {{ funnel_window }} then add_to_carts else 0 end)
                as add_to_carts_{{ funnel_window }}d,
            sum(case when days_before_cutoff <= {{ funnel_window }} then begin_checkouts else 0 end)
                as begin_checkouts_{{ funnel_window }}d,
            sum(case when days_before_cutoff <= {{ funnel_window }} then purchase_events else 0 end)
                as purchase_events_{{ funnel_window }}d,
            sum(case when days_before_cutoff <= {{ funnel_window }} then searches else 0 end)
                as searches_{{ funnel_window }}d,
            {%- if funnel_window not in windows %}
        sum(case when days_before_cutoff <= {{ funnel_window }} then sessions else 0 end)
            as sessions_{{ funnel_window }}d,
        {%- endif %}
        {%- endif %}

        count(*) as active_days_count

    from history
    group by 1, 2

),

{% if has_categories %}
    category_totals as (

        select
            category_days.customer_id,
            cutoffs.cutoff_date,
            category_days.category,
            sum(category_days.items_purchased) as items_purchased
        from category_days
        inner join cutoffs
            on category_days.activity_date < cutoffs.cutoff_date
        group by 1, 2, 3

    ),

    category_features as (

        select
            customer_id,
            cutoff_date,
            count(*) as category_count,
            max(items_purchased) * 1.0 / nullif(sum(items_purchased), 0) as top_category_share
        from category_totals
        group by 1, 2

    ),
{% endif %}

final as (

    select
        aggregated.*,

        ---------- ratios
        -- amounts are decimals: Spark divides decimals to 6 places, DuckDB in double
        cast(aggregated.revenue_total as double) / nullif(aggregated.orders_count, 0) as avg_order_value,
        cast(aggregated.discount_total as double)
        / nullif(cast(aggregated.revenue_total + aggregated.discount_total as double), 0) as discount_share,
        aggregated.discounted_orders_count * 1.0 / nullif(aggregated.orders_count, 0)
            as discounted_order_rate,
        aggregated.returned_orders_count * 1.0 / nullif(aggregated.placed_orders_count, 0)
            as return_rate,
        aggregated.cancelled_orders_count * 1.0 / nullif(aggregated.placed_orders_count, 0)
            as cancel_rate,
        aggregated.days_since_last_order * 1.0 / nullif(aggregated.order_gap_mean_days, 0)
            as overdue_ratio,

        ---------- trends: (last - previous) / (last + previous), in [-1, 1]; 0 when both are 0
        {%- for w in trend_windows %}
            coalesce(
                (aggregated.orders_{{ w }}d - aggregated.orders_prev_{{ w }}d) * 1.0
                / nullif(aggregated.orders_{{ w }}d + aggregated.orders_prev_{{ w }}d, 0),
                0
            ) as orders_trend_{{ w }}d,
            {%- if has_events %}
                coalesce(
                    (aggregated.sessions_{{ w }}d - aggregated.sessions_prev_{{ w }}d) * 1.0
                    / nullif(aggregated.sessions_{{ w }}d + aggregated.sessions_prev_{{ w }}d, 0),
                    0
                ) as sessions_trend_{{ w }}d,
            {%- endif %}
        {%- endfor %}

        {%- if has_events %}
            1.0 - aggregated.purchase_events_{{ funnel_window }}d * 1.0
            / nullif(aggregated.add_to_carts_{{ funnel_window }}d, 0) as cart_abandonment_rate_{{ funnel_window }}d,
            aggregated.purchase_events_{{ funnel_window }}d * 1.0
            / nullif(aggregated.sessions_{{ funnel_window }}d, 0)
                as session_conversion_rate_{{ funnel_window }}d,
        {%- endif %}

        {%- if has_categories %}
            coalesce(category_features.category_count, 0) as category_count,
            category_features.top_category_share,
        {%- endif %}

        aggregated.orders_count > 0 as has_purchased
    from aggregated
    {%- if has_categories %}
    left join category_features
        on aggregated.customer_id = category_features.customer_id
            and aggregated.cutoff_date = category_features.cutoff_date
    {%- endif %}

)

select * from final
{%- endmacro %}
