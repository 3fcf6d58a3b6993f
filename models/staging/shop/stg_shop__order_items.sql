{{ config(enabled=var('enable_order_items')) }}

with

checked as (

    select * from {{ ref('base_shop__order_items_checked') }}
    where quarantine_reason is null

),

final as (

    select
        ---------- ids
        order_id,
        product_id,
        line_id,
        raw_row_id,

        ---------- amounts
        quantity,
        unit_price,
        quantity * unit_price as line_total

    from checked

)

select * from final
