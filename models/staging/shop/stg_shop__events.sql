{{ config(enabled=var('enable_events')) }}

with

checked as (

    select * from {{ ref('base_shop__events_checked') }}
    where quarantine_reason is null

),

final as (

    select
        ---------- ids
        coalesce(event_id, raw_row_id) as event_id,
        customer_id,
        session_id,
        product_id,
        raw_row_id,

        ---------- timestamps
        event_at,
        cast(event_at as date) as event_date,

        ---------- attributes
        event_type

    from checked

)

select * from final
