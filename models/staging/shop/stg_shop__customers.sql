{{ config(enabled=var('enable_customers')) }}

with

checked as (

    select * from {{ ref('base_shop__customers_checked') }}
    where quarantine_reason is null

),

final as (

    select
        ---------- ids
        customer_id,
        raw_row_id,

        ---------- timestamps
        signup_at,
        cast(signup_at as date) as signup_date,

        ---------- attributes
        country_code,
        acquisition_channel,
        email_hash

    from checked

)

select * from final
