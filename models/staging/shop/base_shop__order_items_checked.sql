{#-
    Order lines are checked against the clean orders: a line whose order is
    missing or quarantined is quarantined too (`orphan_order_item`), so revenue
    never comes from an order staging does not know.
-#}
{{ config(materialized='table', enabled=var('enable_order_items')) }}

with

order_items as (

    select * from {{ ref('base_shop__order_items') }}

),

clean_orders as (

    select order_id from {{ ref('stg_shop__orders') }}

),

typed as (

    select
        raw_row_hash,

        ---------- ids
        nullif(trim(order_id), '') as order_id,
        nullif(trim(product_id), '') as product_id,

        ---------- amounts
        nullif(trim(quantity), '') as quantity_text,
        -- decimal to int rounds on DuckDB but truncates on Spark: round explicitly
        {{ retention.try_cast(
            'round(' ~ retention.try_cast("nullif(trim(quantity), '')", 'decimal(18, 4)') ~ ')',
            dbt.type_int()
        ) }} as quantity,
        {{ retention.try_cast("nullif(trim(quantity), '')", 'decimal(18, 4)') }} as quantity_decimal,
        nullif(trim(unit_price), '') as unit_price_text,
        {{ retention.try_cast("nullif(trim(unit_price), '')", 'decimal(18, 2)') }} as unit_price

    from order_items

),

checked as (

    select
        typed.*,
        case
            when typed.order_id is null or typed.product_id is null then 'null_key'
            when typed.quantity_text is null or typed.unit_price_text is null then 'missing_value'
            when typed.quantity_decimal is null or typed.unit_price is null
                then 'non_numeric_amount'
            when typed.quantity_decimal <= 0 or typed.quantity_decimal <> typed.quantity
                then 'invalid_quantity'
            when typed.unit_price < 0 then 'negative_amount'
            when clean_orders.order_id is null then 'orphan_order_item'
        end as row_reason
    from typed
    left join clean_orders
        on typed.order_id = clean_orders.order_id

),

resolved as (

    {{ retention.resolve_duplicates('checked', ['order_id', 'product_id'], 'quantity') }}

)

select * from resolved
