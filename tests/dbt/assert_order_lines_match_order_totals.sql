{#-
    Clean order lines add up to their order's total, where both exist (a warning,
    not an error: README, "Order lines and re-sent orders"). An order matches when
    sum(quantity x unit_price) equals order_total, or order_total plus the
    discount (totals are after discounts, lines may be before them), within
    line_total_tolerance per line (rounding of unit prices). Orders without an
    amount, and orders without clean lines, are not compared. A warning here
    usually means lost or doubled lines, or totals that include shipping or tax.
    Returns one row per order that does not match.
-#}
{{ config(severity='warn', enabled=var('enable_order_items')) }}

with

orders as (

    select
        order_id,
        order_total,
        discount_amount
    from {{ ref('stg_shop__orders') }}
    where order_total is not null

),

lines as (

    select
        order_id,
        count(*) as line_count,
        sum(line_total) as lines_total
    from {{ ref('stg_shop__order_items') }}
    group by order_id

),

compared as (

    select
        orders.order_id,
        orders.order_total,
        orders.discount_amount,
        lines.line_count,
        lines.lines_total,
        {{ var('line_total_tolerance') }} * lines.line_count as tolerance
    from orders
    inner join lines
        on orders.order_id = lines.order_id

),

final as (

    select *
    from compared
    where
        abs(lines_total - order_total) > tolerance
        and abs(lines_total - discount_amount - order_total) > tolerance

)

select * from final
