{#-
    Order lines are checked against the clean orders: a line whose order is
    missing or quarantined is quarantined too (`orphan_order_item`), so revenue
    never comes from an order staging does not know.

    Which lines an order has (README, "Order lines and re-sent orders"):
      - The lines of an order come from the latest delivery (source file, in
        path order) that carries lines of that order; its lines in earlier
        files are `superseded_line`. So a re-sent order (header and lines in a
        later file) replaces its lines instead of doubling them.
      - Within that delivery, lines with a `line_id` are keyed by
        (order_id, line_id): the later row in the file wins; an identical copy
        is an `exact_duplicate`, another version a `key_duplicate`.
      - Lines without a `line_id` are all kept: two identical lines of one
        order are two units of a repeated product, not a duplicate.

    Incremental on DuckDB (docs/incremental.md). Lines have no timestamp, so a
    run re-checks every raw line of an order that either was re-checked in
    base_shop__orders_checked since this table's last run (it may have turned
    clean or quarantined) or has a raw line whose copies are not all loaded
    yet (new lines, re-sent lines), plus lines without an order id. This does
    not depend on the lookback: it is exact.
-#}
{{ config(enabled=var('enable_order_items'), **retention.incremental_config('raw_row_id')) }}
-- depends_on: {{ ref('base_shop__orders_checked') }}
{# One 64-bit bucket per line that its copies share (they agree on every column), and so
    do the versions of a keyed line: (order_id, line_id) when line_id is set, else the raw
    row. Only lines whose bucket repeats can need a number above 1. #}
{% set bucket -%}
    case
        when line_id is not null then {{ retention.hash64(['order_id', 'line_id']) }}
        else {{ retention.hash64(['raw_row_hash']) }}
    end
{%- endset %}

with

order_items as (

    select * from {{ ref('base_shop__order_items') }}

),

clean_orders as (

    {#- The orders' checked base model, not stg_shop__orders: staging models read sources
        and their own base chain, never another stg_ model. A clean order is one with no
        quarantine reason, exactly the rows stg_shop__orders publishes. -#}
    select order_id from {{ ref('base_shop__orders_checked') }}
    where quarantine_reason is null

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
        nullif(trim(order_id), '') as order_id,
        nullif(trim(product_id), '') as product_id,
        nullif(trim(line_id), '') as line_id,

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
            when batch.malformed_reason is not null then 'malformed_line'
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

deliveries as (

    -- the latest delivery that carries lines of each order ('' = rows without a file)
    select
        order_id,
        max(coalesce(source_file, '')) as latest_delivery
    from checked
    where order_id is not null
    group by order_id

),

delivered as (

    select
        checked.*,
        case
            when checked.row_reason is not null then checked.row_reason
            when coalesce(checked.source_file, '') < deliveries.latest_delivery then 'superseded_line'
        end as line_reason
    from checked
    left join deliveries
        on checked.order_id = deliveries.order_id

),

repeated_buckets as (

    select {{ bucket }} as bucket
    from delivered
    group by {{ bucket }}
    having count(*) > 1

),

-- Duplicates are rare: a line alone in its bucket is its only copy and its key's only
-- version, so it gets number 1 without a sort. Only the lines of repeated buckets are ranked
-- (three window sorts over every line were most of this model's time). A repeated bucket is
-- only a candidate: the numbers come from the real row hash and key.
numbered as (

    select
        *,
        cast(1 as {{ dbt.type_int() }}) as exact_copy_number,
        cast(case when line_reason is null and line_id is not null then 1 end as {{ dbt.type_int() }})
            as key_version_number,
        case when line_reason is null and line_id is not null then raw_row_hash end as kept_row_hash
    from delivered
    where {{ bucket }} not in (select repeated_buckets.bucket from repeated_buckets)

    union all

    select
        *,
        -- identical raw lines are numbered latest first (load order), for a unique raw_row_id
        cast(row_number() over (
            partition by raw_row_hash order by {{ retention.load_order_desc([]) }}
        ) as {{ dbt.type_int() }}) as exact_copy_number,
        -- versions of a keyed line in its delivery, latest first; lines without line_id: null
        case
            when line_reason is null and line_id is not null
                then cast(row_number() over (
                        partition by order_id, line_id, line_reason is null
                        order by {{ retention.load_order_desc(['product_id', 'quantity_text', 'unit_price_text']) }}
                    ) as {{ dbt.type_int() }})
        end as key_version_number,
        case
            when line_reason is null and line_id is not null
                then first_value(raw_row_hash) over (
                        partition by order_id, line_id, line_reason is null
                        order by {{ retention.load_order_desc(['product_id', 'quantity_text', 'unit_price_text']) }}
                    )
        end as kept_row_hash
    from delivered
    where {{ bucket }} in (select repeated_buckets.bucket from repeated_buckets)

),

resolved as (

    select
        *,
        concat(raw_row_hash, '-', cast(exact_copy_number as {{ dbt.type_string() }})) as raw_row_id,
        case
            when line_reason is not null then line_reason
            when key_version_number > 1 and raw_row_hash = kept_row_hash then 'exact_duplicate'
            when key_version_number > 1 then 'key_duplicate'
        end as quarantine_reason
    from numbered

),

final as (

    select
        *,
        {{ retention.run_checked_at() }} as checked_at
    from resolved

)

select * from final
