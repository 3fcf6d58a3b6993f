{{ config(materialized='table', enabled=var('enable_contacts')) }}

with

contacts as (

    select * from {{ ref('base_shop__contacts') }}

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
        nullif(trim(contact_id), '') as contact_id,
        nullif(trim(customer_id), '') as customer_id,
        nullif(trim(campaign_id), '') as campaign_id,

        ---------- timestamps
        nullif(trim(contacted_at), '') as contacted_at_text,
        {{ retention.to_utc_timestamp("nullif(trim(contacted_at), '')") }} as contacted_at,

        ---------- attributes
        lower(nullif(trim(assignment), '')) as assignment,  -- noqa: RF04
        lower(nullif(trim(offer_type), '')) as offer_type,
        lower(nullif(trim(channel), '')) as channel,

        ---------- amounts
        nullif(trim(offer_cost), '') as offer_cost_text,
        {{ retention.try_cast("nullif(trim(offer_cost), '')", 'decimal(18, 2)') }} as offer_cost

    from contacts

),

checked as (

    select
        *,
        case
            when malformed_reason is not null then 'malformed_line'
            when contact_id is null or customer_id is null or campaign_id is null then 'null_key'
            -- a treatment row says what was offered; a control row (held out) has no offer
            when contacted_at_text is null or assignment is null
                or (assignment = 'treatment' and offer_type is null)
                then 'missing_value'
            when contacted_at is null then 'unparseable_timestamp'
            when offer_cost_text is not null and offer_cost is null then 'non_numeric_amount'
            when offer_cost < 0 then 'negative_amount'
            when contacted_at > {{ retention.max_valid_timestamp() }} then 'future_timestamp'
            when assignment not in ('treatment', 'control') then 'invalid_assignment'
        end as row_reason
    from typed

),

-- CTEs repeated_buckets and resolved
{{ retention.resolve_duplicates('checked', ['contact_id'], 'contacted_at', [
    'customer_id', 'campaign_id', 'contacted_at_text', 'assignment', 'offer_type', 'offer_cost_text', 'channel',
]) }}

select * from resolved
