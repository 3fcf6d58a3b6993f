{#-
    Events with a session key: the source's session_id when it has one, else a
    session derived from a gap of more than `session_gap_minutes` between a
    customer's consecutive events (the GA4 / Segment convention).
-#}
{{ config(enabled=var('enable_events')) }}

with

events as (

    select * from {{ ref('stg_shop__events') }}

),

gaps as (

    select
        *,
        {{ retention.epoch_seconds('event_at') }}
        - {{ retention.epoch_seconds(
            'lag(event_at) over (partition by customer_id order by event_at, event_id)'
        ) }} as seconds_since_previous_event
    from events

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
        session_id is null as is_derived_session
    from numbered

)

select * from final
