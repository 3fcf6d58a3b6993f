{{ config(materialized='table', enabled=var('enable_products')) }}

with

products as (

    select * from {{ ref('base_shop__products') }}

),

typed as (

    select
        raw_row_hash,

        ---------- ids
        nullif(trim(product_id), '') as product_id,

        ---------- attributes
        lower(nullif(trim(category), '')) as category,
        nullif(trim(brand), '') as brand,

        ---------- amounts
        nullif(trim(price), '') as price_text,
        {{ retention.try_cast("nullif(trim(price), '')", 'decimal(18, 2)') }} as price

    from products

),

checked as (

    select
        *,
        case
            when product_id is null then 'null_key'
            when category is null then 'missing_value'
            when price_text is not null and price is null then 'non_numeric_amount'
            when price < 0 then 'negative_amount'
        end as row_reason
    from typed

),

resolved as (

    {{ retention.resolve_duplicates('checked', ['product_id'], 'price') }}

)

select * from resolved
