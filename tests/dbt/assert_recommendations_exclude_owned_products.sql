{{ config(enabled=var('enable_order_items') and var('enable_products')) }}

-- No recommended product was already ordered (completed or returned) by the
-- customer before as_of_date. Only the mart's own parent is read, so selecting
-- staging alone (eager indirect selection) does not run this test on a mart
-- that was never built; the unit tests of int_customer_products_aggregated
-- cover what counts as ordered.
select
    recommendations.customer_id,
    recommendations.product_id
from {{ ref('fct_product_recommendations') }} as recommendations
inner join {{ ref('int_customer_products_aggregated') }} as customer_products
    on recommendations.customer_id = customer_products.customer_id
        and recommendations.product_id = customer_products.product_id
