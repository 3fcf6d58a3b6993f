{#-
    Every prediction monitoring judges, with what happened after it: the
    champion's scores of past builds (production, ml_churn_scores' kept
    history) and each training run's out-of-time validation predictions
    (backtest, ml_churn_backtest_predictions), up to this build's as_of_date.
    The outcome is the training label's rule (macros/definitions/churn_label.sql)
    applied to [scoring_date, scoring_date + horizon): churn is defined once,
    in SQL. Null until that window has closed by as_of_date (is_matured).
    ml_churn_monitoring computes the metrics from these rows.
-#}
{%- set horizon = retention.label_horizon_days() -%}

with

production_scores as (

    select * from {{ ref('ml_churn_scores') }}

),

backtest_predictions as (

    select * from {{ ref('ml_churn_backtest_predictions') }}

),

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

as_of as (

    {{ retention.build_as_of_date() }}

),

predictions as (

    select
        -- "source" is a keyword, but fct_model_monitoring's column keeps the plain name.
        'production' as source,  -- noqa: RF04
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as scoring_date,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(churn_probability as double) as churn_probability
    from production_scores
    union all
    select
        'backtest' as source,  -- noqa: RF04
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(cutoff_date as date) as scoring_date,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(churn_probability as double) as churn_probability
    from backtest_predictions

),

windows as (

    {#- Only dates up to this build's as_of_date: a later score history (from a build
        with a later as_of_date) cannot be judged with this build's data. -#}
    select
        predictions.*,
        cast({{ dbt.dateadd('day', horizon, 'predictions.scoring_date') }} as date) as horizon_end_date,
        cast({{ dbt.dateadd('day', horizon, 'predictions.scoring_date') }} as date) <= as_of.as_of_date
            as is_matured
    from predictions
    cross join as_of
    where predictions.scoring_date <= as_of.as_of_date

),

matured_windows as (

    {#- One window per customer and date: a date can be both a production and a backtest date. -#}
    select distinct
        customer_id,
        scoring_date as window_start_date,
        horizon_end_date as window_end_date
    from windows
    where is_matured

),

window_activity as (

    {{ retention.label_window_activity('matured_windows', 'customer_days') }}

),

final as (

    select
        windows.source,
        windows.customer_id,
        windows.scoring_date,
        windows.model_version,
        windows.churn_probability,
        windows.horizon_end_date,
        windows.is_matured,
        case when windows.is_matured then {{ retention.churn_label('window_activity') }} end as is_churned
    from windows
    left join window_activity
        on windows.customer_id = window_activity.customer_id
            and windows.scoring_date = window_activity.window_start_date

)

select * from final
