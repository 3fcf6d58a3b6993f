{#-
    The MetricFlow time spine (docs/semantic_layer.md): one row per day from
    1990-01-01 for 20,000 days (to 2044-10), wide enough for CDNOW (1997) and
    the demo. Built from two small integer series, so it needs no
    engine-specific generator.
-#}
with

hundreds as (

    {{ retention.integer_series(200) }}

),

units as (

    {{ retention.integer_series(100) }}

),

days as (

    select hundreds.n * 100 + units.n as day_number
    from hundreds
    cross join units

),

final as (

    select cast({{ dbt.dateadd('day', 'day_number', "cast('1990-01-01' as date)") }} as date) as date_day
    from days

)

select * from final
