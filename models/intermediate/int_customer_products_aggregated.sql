{#-
    One row per customer x product ordered before as_of_date, in a completed
    or a returned order: what the customer already has (the
    recommend_owned_products rule and its test read it). Built from the
    recommenders' purchase log (int_customer_product_days_aggregated), so what
    counts as a purchase is defined once. Cancelled orders are not purchases.
-#}
{{ config(enabled=var('enable_order_items')) }}

with

product_days as (

    select * from {{ ref('int_customer_product_days_aggregated') }}

),

as_of as (

    {{ retention.build_as_of_date() }}

),

final as (

    {#- An order has one date, so summing the per-day distinct counts counts
        each order once. -#}
    select
        product_days.customer_id,
        product_days.product_id,
        as_of.as_of_date,
        cast(sum(product_days.completed_orders) as {{ dbt.type_bigint() }}) as completed_orders,
        cast(sum(product_days.returned_orders) as {{ dbt.type_bigint() }}) as returned_orders,
        cast(sum(product_days.quantity_purchased) as {{ dbt.type_bigint() }}) as quantity_purchased,
        min(case when product_days.completed_orders > 0 then product_days.purchased_date end)
            as first_purchased_date,
        max(case when product_days.completed_orders > 0 then product_days.purchased_date end)
            as last_purchased_date
    from product_days
    cross join as_of
    group by 1, 2, 3

)

select * from final
