{#-
    Incremental on DuckDB (docs/incremental.md): a run re-checks the raw rows
    dated from the loaded watermark minus `incremental_lookback_days`, rows
    without a usable timestamp, and every raw version of an order id seen in
    that window, so duplicates are resolved against everything loaded before.
-#}
{{ config(**retention.incremental_config('raw_row_id')) }}

with

orders as (

    select * from {{ ref('base_shop__orders') }}

),

typed as {{ retention.inline_cte() }} (

    select
        raw_row_hash,

        ---------- load position (README, "Duplicates and re-sends")
        source_file,
        source_row,
        source_line,
        malformed_reason,

        ---------- ids
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as customer_id,

        ---------- timestamps
        nullif(trim(ordered_at), '') as ordered_at_text,
        {{ retention.to_utc_timestamp("nullif(trim(ordered_at), '')") }} as ordered_at,

        ---------- amounts
        nullif(trim(order_total), '') as order_total_text,
        {{ retention.try_cast("nullif(trim(order_total), '')", 'decimal(18, 2)') }} as order_total,
        nullif(trim(discount_amount), '') as discount_amount_text,
        {{ retention.try_cast("nullif(trim(discount_amount), '')", 'decimal(18, 2)') }} as discount_amount,

        ---------- attributes
        nullif(trim(coupon_code), '') as coupon_code,
        {{ retention.normalise_order_status('status') }} as status

    from orders

),

-- CTEs in_window and batch
{{ retention.incremental_batch('typed', 'ordered_at', 'order_id') }},

checked as {{ retention.inline_cte() }} (

    select
        *,
        case
            when malformed_reason is not null then 'malformed_line'
            when order_id is null or customer_id is null then 'null_key'
            when ordered_at_text is null then 'missing_value'
            when ordered_at is null then 'unparseable_timestamp'
            -- order_total is optional (frequency-only exports): absent or empty is a clean order
            -- with a null amount; text that is not a number is quarantined
            when (order_total_text is not null and order_total is null)
                or (discount_amount_text is not null and discount_amount is null)
                then 'non_numeric_amount'
            when order_total < 0 or discount_amount < 0 then 'negative_amount'
            when ordered_at > {{ retention.max_valid_timestamp() }} then 'future_timestamp'
            when status is null then 'unknown_status'
        end as row_reason
    from batch

),

-- CTEs repeated_buckets and resolved
{{ retention.resolve_duplicates('checked', ['order_id'], 'ordered_at', [
    'customer_id', 'ordered_at_text', 'order_total_text', 'status', 'discount_amount_text', 'coupon_code',
]) }},

final as (

    select
        *,
        {{ retention.run_checked_at() }} as checked_at
    from resolved

)

select * from final
