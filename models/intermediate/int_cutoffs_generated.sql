{#-
    The cutoff spine. `as_of_date` (default: the day after the last order or
    event) is the scoring cutoff. Training cutoffs step back every
    `snapshot_every_days` from the last mature cutoff (as_of - horizon, so its
    label window has closed by as_of), keeping only cutoffs with at least
    `min_history_days` of data before them.
    Features at cutoff c use days < c; labels use [c, c + horizon).
    This table is the one home of the build's scoring date (read it with
    retention.build_as_of_date()), its label horizon (label_horizon_days,
    chosen by retention.label_horizon_days()) and its latest mature cutoff
    (is_latest_mature_cutoff: the backtests of segments and dim_segments).
-#}
{%- set horizon = retention.label_horizon_days() -%}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

data_range as (

    select
        min(activity_date) as first_activity_date,
        max(activity_date) as last_activity_date
    from customer_days

),

anchor as (

    select
        first_activity_date,
        last_activity_date,
        {% if var('as_of_date', none) is not none -%}
        cast('{{ var("as_of_date") }}' as date)
        {%- else -%}
            cast({{ dbt.dateadd('day', 1, 'last_activity_date') }} as date)
        {%- endif %} as as_of_date
    from data_range

),

steps as (

    {{ retention.integer_series(var('max_training_snapshots') + 1) }}

),

cutoffs as (

    select
        anchor.first_activity_date,
        anchor.as_of_date,
        steps.n as snapshot_number,
        case
            when steps.n = 0 then anchor.as_of_date
            else cast({{ dbt.dateadd(
                'day',
                '-1 * (' ~ horizon ~ ' + (steps.n - 1) * ' ~ var('snapshot_every_days') ~ ')',
                'anchor.as_of_date'
            ) }} as date)
        end as cutoff_date
    from anchor
    cross join steps

),

spine as (

    select
        cutoff_date,
        as_of_date,
        cast(snapshot_number as {{ dbt.type_int() }}) as snapshot_number,
        snapshot_number = 0 as is_scoring_cutoff,
        cast({{ dbt.dateadd('day', horizon, 'cutoff_date') }} as date) as label_window_end_date,
        cast({{ dbt.dateadd('day', horizon, 'cutoff_date') }} as date) <= as_of_date
            as is_label_mature,
        cast({{ horizon }} as {{ dbt.type_int() }}) as label_horizon_days
    from cutoffs
    where cutoff_date >= cast({{ dbt.dateadd('day', var('min_history_days'), 'first_activity_date') }} as date)

),

final as (

    select
        *,
        coalesce(
            cutoff_date = max(case when is_label_mature then cutoff_date end) over (), false
        ) as is_latest_mature_cutoff
    from spine

)

select * from final
