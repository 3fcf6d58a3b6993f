{#- Items bought per customer, day and category: the base of breadth and concentration. -#}
{{ config(enabled=var('enable_order_items') and var('enable_products')) }}

with

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where is_completed

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        orders.customer_id,
        orders.ordered_date as activity_date,
        coalesce(products.category, 'unknown') as category,
        sum(order_items.quantity) as items_purchased
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
    group by 1, 2, 3

)

select * from final
