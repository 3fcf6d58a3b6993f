{#-
    Order lines are checked against the clean orders: a line whose order is
    missing or quarantined is quarantined too (`orphan_order_item`), so revenue
    never comes from an order staging does not know.

    Incremental on DuckDB (docs/incremental.md). Lines have no timestamp, so a
    run re-checks every raw line of an order that either was re-checked in
    base_shop__orders_checked since this table's last run (it may have turned
    clean or quarantined) or has a raw line whose copies are not all loaded
    yet (new lines, re-sent lines), plus lines without an order id. This does
    not depend on the lookback: it is exact.
-#}
{{ config(enabled=var('enable_order_items'), **retention.incremental_config('raw_row_id')) }}
-- depends_on: {{ ref('base_shop__orders_checked') }}

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

{% if is_incremental() %}
    raw_copies as (

        select
            raw_row_hash,
            min(nullif(trim(order_id), '')) as order_id,
            count(*) as copies
        from order_items
        group by raw_row_hash

    ),

    loaded_copies as (

        select
            raw_row_hash,
            count(*) as copies
        from {{ this }}
        group by raw_row_hash

    ),

    changed_orders as (

        select order_id from {{ ref('base_shop__orders_checked') }}
        where checked_at > {{ retention.incremental_checked_watermark() }}

        union

        select raw_copies.order_id
        from raw_copies
        left join loaded_copies
            on raw_copies.raw_row_hash = loaded_copies.raw_row_hash
        where loaded_copies.copies is null or loaded_copies.copies <> raw_copies.copies

    ),
{% endif %}

batch as (

    select * from typed
    {% if is_incremental() -%}
        where typed.order_id is null
            or typed.order_id in (select changed_orders.order_id from changed_orders)
    {%- endif %}

),

checked as (

    select
        batch.*,
        case
            when batch.order_id is null or batch.product_id is null then 'null_key'
            when batch.quantity_text is null or batch.unit_price_text is null then 'missing_value'
            when batch.quantity_decimal is null or batch.unit_price is null
                then 'non_numeric_amount'
            when batch.quantity_decimal <= 0 or batch.quantity_decimal <> batch.quantity
                then 'invalid_quantity'
            when batch.unit_price < 0 then 'negative_amount'
            when clean_orders.order_id is null then 'orphan_order_item'
        end as row_reason
    from batch
    left join clean_orders
        on batch.order_id = clean_orders.order_id

),

resolved as (

    {{ retention.resolve_duplicates('checked', ['order_id', 'product_id'], 'quantity') }}

),

final as (

    select
        *,
        {{ retention.run_checked_at() }} as checked_at
    from resolved

)

select * from final
