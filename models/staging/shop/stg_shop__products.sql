{{ config(enabled=var('enable_products')) }}

with

checked as (

    select * from {{ ref('base_shop__products_checked') }}
    where quarantine_reason is null

),

final as (

    select
        product_id,
        raw_row_id,
        category,
        brand,
        price
    from checked

)

select * from final
