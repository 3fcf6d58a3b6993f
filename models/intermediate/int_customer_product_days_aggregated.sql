{#-
    One row per customer x product x day with a completed or returned order
    dated before as_of_date: the purchase log the recommenders learn from and
    are evaluated on (retention.recommend). A recommender at cutoff c reads the
    days before c, and is scored on the completed purchases in
    [c, c + recommendation_horizon_days); nothing at or after as_of_date (the
    scoring window) reaches it. Cancelled orders are not purchases; a returned
    order still means the customer has the product. int_customer_products_aggregated
    (what each customer owns) is built from it.
-#}
{{ config(enabled=var('enable_order_items')) }}

with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where is_completed or is_returned

),

as_of as (

    {{ retention.build_as_of_date() }}

),

order_lines as (

    select
        orders.customer_id,
        order_items.product_id,
        orders.order_id,
        orders.ordered_date,
        orders.is_completed,
        order_items.quantity
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    cross join as_of
    where orders.ordered_date < as_of.as_of_date

),

final as (

    select
        customer_id,
        product_id,
        ordered_date as purchased_date,
        cast(count(distinct case when is_completed then order_id end) as {{ dbt.type_bigint() }})
            as completed_orders,
        cast(count(distinct case when not is_completed then order_id end) as {{ dbt.type_bigint() }})
            as returned_orders,
        cast(sum(case when is_completed then quantity else 0 end) as {{ dbt.type_bigint() }})
            as quantity_purchased
    from order_lines
    group by 1, 2, 3

)

select * from final
