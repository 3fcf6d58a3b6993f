{#-
    Clean events with a session key: the source's session_id when it has one,
    else a session derived from a gap of more than `session_gap_minutes`
    between a customer's consecutive events (the GA4 / Segment convention).
    The one definition, read by int_events_sessionized (a view) and by the
    incremental run of int_customer_days_aggregated.

    customers: optional relation or CTE with a customer_id column; when given,
    only those customers' events are sessionized (whole histories: the windows
    partition by customer). The filter has to be inside: DuckDB does not push
    a semi join on customer_id from outside down through the windows, so a
    filter on the view sorted every event of a source without session ids.
-#}
{% macro sessionized_events(customers=none) -%}
with

-- Not materialized: read three times below, and a materialized CTE would hold every clean
-- event in memory while customer-days aggregates them.
events as {{ retention.inline_cte() }} (

    select * from {{ ref('stg_shop__events') }}
    {%- if customers is not none %}
    where customer_id in (select customer_id from {{ customers }})
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

-- Both windows order by event_at alone. Events at the same instant may come in any order,
-- and every event still gets the same session: between tied events the gap is zero, so
-- only the first of them can open a session, and all of them count the same starts. The
-- event_id tie-break cost a string sort key over every event: 37-44 s against 29 s to
-- sessionize 99.6M events without session ids (BENCHMARKS.md, "A source without session
-- ids").
gaps as (

    select
        *,
        {{ retention.epoch_seconds('event_at') }}
        - {{ retention.epoch_seconds(
            'lag(event_at) over (partition by customer_id order by event_at)'
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
            order by event_at
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
        session_id is null as is_derived_session
    from numbered

)

select * from final
{%- endmacro %}
