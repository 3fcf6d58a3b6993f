{#-
    Incremental on DuckDB (docs/incremental.md): a run re-checks the raw rows
    dated from the loaded watermark minus `incremental_lookback_days`, rows
    without a usable timestamp, and every raw version of an event id seen in
    that window. Identical copies share their timestamp, so they are always
    in the same batch.
-#}
{{ config(enabled=var('enable_events'), **retention.incremental_config('raw_row_id')) }}

with

events as {{ retention.inline_cte() }} (

    select * from {{ ref('base_shop__events') }}

),

-- Not a window over every row (that buffers the whole table), and not a count either: the
-- scan stops at the first row with an id (a source without ids is read to the end).
id_presence as (

    select count(*) > 0 as source_has_event_ids
    from (
        select 1 as has_id
        from events
        where nullif(trim(event_id), '') is not null
        -- any row with an id will do: the answer is the same, so no order is needed
        limit 1  -- noqa: AM09
    ) as first_id

),

{#- The typed columns and the row checks, written once: applied to every raw row, and on
    a full build again to the few raw rows whose key repeats (`candidate_*` below). -#}
{%- set typed_columns %}
        ---------- load position (README, "Duplicates and re-sends")
        source_file,
        source_row,
        source_line,
        malformed_reason,

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
{%- endset %}
{%- set row_reason %}
        case
            when malformed_reason is not null then 'malformed_line'
            -- event_id is optional, but when the source has ids a missing one is a broken key
            when customer_id is null or (event_id is null and id_presence.source_has_event_ids)
                then 'null_key'
            when event_at_text is null or event_type is null then 'missing_value'
            when event_at is null then 'unparseable_timestamp'
            when event_at > {{ retention.max_valid_timestamp() }} then 'future_timestamp'
            when event_type not in ('{{ var("event_types") | join("', '") }}') then 'unknown_event_type'
        end
{%- endset %}
{#- An incremental batch is small: its repeated keys are ranked from its checked rows. -#}
{%- set rank_from_raw = not is_incremental() %}

typed as {{ retention.inline_cte() }} (

    select
        raw_row_hash,
        {{- typed_columns }}
    from events

),

-- CTEs in_window and batch
{{ retention.incremental_batch('typed', 'event_at', 'event_id') }},

checked as {{ retention.inline_cte() }} (

    select
        batch.*,
        {{- row_reason }} as row_reason
    from batch
    cross join id_presence

),

{#- Events without an id are keyed by their parsed content, so one event exported twice
    with different time-zone spellings of the same instant is a duplicate. -#}
-- CTEs repeated_buckets, {% if rank_from_raw %}repeated_event_ids, candidate_events,
-- candidate_typed, candidate_checked, {% endif %}resolved
{% call retention.resolve_duplicates('checked', ['event_id'] + retention.when_null_key(
    'event_id', ['customer_id', 'event_at', 'event_type', 'session_id', 'product_id']), 'event_at', [
    'customer_id', 'event_at_text', 'event_type', 'session_id', 'product_id',
], keyed_candidates='candidate_checked' if rank_from_raw else none) %}
{%- if rank_from_raw %}

-- The raw rows whose event id repeats, typed and checked again. First the raw spellings of
-- the repeated ids (a pass over the id column alone), then a semi join on that raw column:
-- DuckDB filters the scan with it and runs the md5 and the timestamp parsing above the
-- join, on these rows only. So a duplicate in the source costs two narrow scans, not a
-- second pass of the whole projection over every row.
repeated_event_ids as (

    select distinct event_id
    from events
    where
        nullif(trim(event_id), '') is not null
        and {{ retention.hash64(["nullif(trim(event_id), '')"]) }} in (
            select keyed_repeated_buckets.bucket from keyed_repeated_buckets
        )

),

candidate_events as (

    select * from events
    where event_id in (select repeated_event_ids.event_id from repeated_event_ids)

),

candidate_typed as (

    select
        raw_row_hash,
        {{ typed_columns }}
    from candidate_events

),

candidate_checked as (

    select
        candidate_typed.*,
        {{ row_reason }} as row_reason
    from candidate_typed
    cross join id_presence

),
{%- endif %}
{% endcall %},

-- Every column but two working ones, each one distinct string per event that nothing
-- after the ranking above reads: event_at_text, the timestamp's raw spelling (~1.4 s of
-- the ~9.9 s write at 100k customers), and raw_row_hash, which raw_row_id already holds
-- (~2.0 s; stg_shop__quarantined_rows takes it back out with retention.raw_row_hash_of).
final as (

    select
        source_file,
        source_row,
        source_line,
        malformed_reason,
        event_id,
        customer_id,
        session_id,
        product_id,
        event_at,
        event_type,
        row_reason,
        exact_copy_number,
        raw_row_id,
        key_version_number,
        quarantine_reason,
        {{ retention.run_checked_at() }} as checked_at
    from resolved

)

select * from final
