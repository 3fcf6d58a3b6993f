{#-
    Events with a session key: the source's session_id when it has one, else a
    session derived from a gap of more than `session_gap_minutes` between a
    customer's consecutive events (the GA4 / Segment convention).

    Incremental on DuckDB (docs/incremental.md): a run re-sessionizes the whole
    history of every customer with an event row re-checked in staging since
    this table's last run, so sessions spanning the batch boundary and late
    events in the middle of a history come out as in a full build.
-#}
{{ config(
    enabled=var('enable_events'),
    post_hook="{{ retention.drop_tombstones('event_id') }}",
    **retention.incremental_config('customer_id')
) }}
-- depends_on: {{ ref('base_shop__events_checked') }}

with

{% if is_incremental() %}
    touched_customers as (

        select distinct customer_id
        from {{ ref('base_shop__events_checked') }}
        where
            checked_at > {{ retention.incremental_checked_watermark() }}
            and customer_id is not null

    ),
{% endif %}

events as (

    select * from {{ ref('stg_shop__events') }}
    {% if is_incremental() -%}
        where customer_id in (select touched_customers.customer_id from touched_customers)
    {%- endif %}

),

-- Only customers with an event lacking a session_id need derived sessions; the windows
-- below sort every event of a customer, so the others skip them (a source with session ids
-- on every event sorts nothing).
customers_deriving_sessions as (

    select distinct customer_id
    from events
    where session_id is null

),

gaps as (

    select
        *,
        {{ retention.epoch_seconds('event_at') }}
        - {{ retention.epoch_seconds(
            'lag(event_at) over (partition by customer_id order by event_at, event_id)'
        ) }} as seconds_since_previous_event
    from events
    where customer_id in (select customers_deriving_sessions.customer_id from customers_deriving_sessions)

),

numbered as (

    select
        *,
        cast(sum(
            case
                when seconds_since_previous_event is null
                    or seconds_since_previous_event > {{ var('session_gap_minutes') * 60 }}
                    then 1
                else 0
            end
        ) over (
            partition by customer_id
            order by event_at, event_id
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as derived_session_number
    from gaps

    union all

    -- customers whose events all carry a session_id: nothing to derive, nothing sorted
    select
        *,
        cast(null as {{ dbt.type_bigint() }}) as seconds_since_previous_event,
        cast(null as {{ dbt.type_bigint() }}) as derived_session_number
    from events
    where customer_id not in (select customers_deriving_sessions.customer_id from customers_deriving_sessions)

),

final as (

    select
        event_id,
        customer_id,
        product_id,
        event_at,
        event_date,
        event_type,
        coalesce(
            session_id,
            concat(customer_id, '-s', cast(derived_session_number as {{ dbt.type_string() }}))
        ) as session_key,
        session_id is null as is_derived_session,
        {{ retention.run_checked_at() }} as checked_at
    from numbered
    {% if is_incremental() %}
        union all
        -- tombstone: a touched customer with no clean event left (dropped by the post-hook)
        select
            cast(null as {{ dbt.type_string() }}) as event_id,
            touched_customers.customer_id,
            cast(null as {{ dbt.type_string() }}) as product_id,
            cast(null as {{ dbt.type_timestamp() }}) as event_at,
            cast(null as date) as event_date,
            cast(null as {{ dbt.type_string() }}) as event_type,
            cast(null as {{ dbt.type_string() }}) as session_key,
            cast(null as {{ dbt.type_boolean() }}) as is_derived_session,
            {{ retention.run_checked_at() }} as checked_at
        from touched_customers
        where touched_customers.customer_id not in (select events.customer_id from events)
    {% endif %}

)

select * from final
