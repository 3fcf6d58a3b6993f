{{ config(materialized='table', enabled=var('enable_products')) }}

with

products as (

    select * from {{ ref('base_shop__products') }}

),

typed as (

    select
        raw_row_hash,

        ---------- load position (README, "Duplicates and re-sends")
        source_file,
        source_row,
        source_line,
        malformed_reason,

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
            when malformed_reason is not null then 'malformed_line'
            when product_id is null then 'null_key'
            when category is null then 'missing_value'
            when price_text is not null and price is null then 'non_numeric_amount'
            when price < 0 then 'negative_amount'
        end as row_reason
    from typed

),

{#- Products have no timestamp: the later row in load order is the latest version. -#}
-- CTEs repeated_buckets and resolved
{{ retention.resolve_duplicates('checked', ['product_id'], none, ['category', 'brand', 'price_text']) }}

select * from resolved
