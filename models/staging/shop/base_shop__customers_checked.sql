{{ config(materialized='table', enabled=var('enable_customers')) }}

with

customers as (

    select * from {{ ref('base_shop__customers') }}

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
        nullif(trim(customer_id), '') as customer_id,

        ---------- timestamps
        nullif(trim(signup_at), '') as signup_at_text,
        {{ retention.to_utc_timestamp("nullif(trim(signup_at), '')") }} as signup_at,

        ---------- attributes
        upper(nullif(trim(country), '')) as country_code,
        lower(nullif(trim(acquisition_channel), '')) as acquisition_channel,

        ---------- pii (pseudonymised in the base model; the raw value is never stored)
        email_hash

    from customers

),

checked as (

    select
        *,
        case
            when malformed_reason is not null then 'malformed_line'
            when customer_id is null then 'null_key'
            when signup_at_text is not null and signup_at is null then 'unparseable_timestamp'
            when signup_at > {{ retention.max_valid_timestamp() }} then 'future_timestamp'
        end as row_reason
    from typed

),

-- CTEs repeated_buckets and resolved
{{ retention.resolve_duplicates('checked', ['customer_id'], 'signup_at', [
    'signup_at_text', 'country_code', 'acquisition_channel', 'email_hash',
]) }}

select * from resolved
