with

checked as (

    select * from {{ ref('base_shop__orders_checked') }}
    where quarantine_reason is null

),

final as (

    select
        ---------- ids
        order_id,
        customer_id,
        raw_row_id,

        ---------- timestamps
        ordered_at,
        cast(ordered_at as date) as ordered_date,

        ---------- amounts
        order_total,
        coalesce(discount_amount, 0) as discount_amount,

        ---------- attributes
        status,
        coupon_code,
        status = 'completed' as is_completed,
        status = 'cancelled' as is_cancelled,
        status = 'returned' as is_returned,
        coupon_code is not null as has_coupon

    from checked

)

select * from final
