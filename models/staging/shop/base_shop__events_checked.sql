{{ config(materialized='table', enabled=var('enable_events')) }}

with

events as (

    select * from {{ ref('base_shop__events') }}

),

-- One aggregate scan, not a window over every row (that buffers the whole table).
id_presence as (

    select count(nullif(trim(event_id), '')) > 0 as source_has_event_ids
    from events

),

typed as (

    select
        raw_row_hash,

        ---------- ids
        nullif(trim(event_id), '') as event_id,
        nullif(trim(customer_id), '') as customer_id,
        nullif(trim(session_id), '') as session_id,
        nullif(trim(product_id), '') as product_id,

        ---------- timestamps
        nullif(trim(event_at), '') as event_at_text,
        {{ retention.to_utc_timestamp("nullif(trim(event_at), '')") }} as event_at,

        ---------- attributes
        lower(nullif(trim(event_type), '')) as event_type

    from events

),

checked as (

    select
        typed.*,
        case
            -- event_id is optional, but when the source has ids a missing one is a broken key
            when customer_id is null or (event_id is null and id_presence.source_has_event_ids)
                then 'null_key'
            when event_at_text is null or event_type is null then 'missing_value'
            when event_at is null then 'unparseable_timestamp'
            when event_at > {{ retention.max_valid_timestamp() }} then 'future_timestamp'
            when
                event_type not in (
                    {%- for event_type in var('event_types') %}
                        '{{ event_type }}'{% if not loop.last %},{% endif %}
                    {%- endfor %}
                )
                then 'unknown_event_type'
        end as row_reason
    from typed
    cross join id_presence

),

resolved as (

    {#- Events without an id are keyed by their parsed content, so one event exported twice
        with different time-zone spellings of the same instant is a duplicate. -#}
    {{ retention.resolve_duplicates('checked', ['event_id'] + retention.when_null_key(
        'event_id', ['customer_id', 'event_at', 'event_type', 'session_id', 'product_id']), 'event_at') }}

)

select * from resolved
