{#-
    One row per customer x product ordered before as_of_date, in a completed
    or a returned order: what the customer already has (the
    recommend_owned_products rule and its test read it). Cancelled orders are
    not purchases.
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

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

as_of as (

    select max(as_of_date) as as_of_date
    from cutoffs

),

order_lines as (

    select
        orders.customer_id,
        order_items.product_id,
        orders.order_id,
        orders.ordered_date,
        orders.is_completed,
        order_items.quantity,
        as_of.as_of_date
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
        as_of_date,
        cast(count(distinct case when is_completed then order_id end) as {{ dbt.type_bigint() }})
            as completed_orders,
        cast(count(distinct case when not is_completed then order_id end) as {{ dbt.type_bigint() }})
            as returned_orders,
        cast(sum(case when is_completed then quantity else 0 end) as {{ dbt.type_bigint() }})
            as quantity_purchased,
        min(case when is_completed then ordered_date end) as first_purchased_date,
        max(case when is_completed then ordered_date end) as last_purchased_date
    from order_lines
    group by 1, 2, 3

)

select * from final
