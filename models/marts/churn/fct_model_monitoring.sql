{#-
    Model monitoring (docs/marts_monitoring.md). Two kinds of rows:
      - performance: per source (production scores of past builds, or
        backtest = each run's out-of-time validation predictions) x scoring
        date x model version. Metrics are filled only once the date's horizon
        has passed by as_of_date (is_matured); psi compares the date's scores
        with the previous date of the same source.
      - feature_drift: per snapshot cutoff x feature, PSI against the previous
        cutoff.
-#}
with

monitoring as (

    select * from {{ ref('ml_churn_monitoring') }}

),

final as (

    select
        md5(concat(
            cast(monitoring_kind as {{ dbt.type_string() }}), '|',
            cast(source as {{ dbt.type_string() }}), '|',
            coalesce(cast(model_version as {{ dbt.type_string() }}), ''), '|',
            cast(scoring_date as {{ dbt.type_string() }}), '|',
            coalesce(cast(feature_name as {{ dbt.type_string() }}), '')
        )) as monitoring_id,
        cast(monitoring_kind as {{ dbt.type_string() }}) as monitoring_kind,
        -- "source" is a keyword, but the plain name is what BI users filter on.
        cast(source as {{ dbt.type_string() }}) as source,  -- noqa: RF04
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(scoring_date as date) as scoring_date,
        cast(reference_date as date) as reference_date,
        cast(horizon_end_date as date) as horizon_end_date,
        cast(is_matured as boolean) as is_matured,
        cast(is_out_of_time as boolean) as is_out_of_time,
        cast(feature_name as {{ dbt.type_string() }}) as feature_name,
        cast(n_scored as {{ dbt.type_bigint() }}) as n_scored,
        cast(n_matured as {{ dbt.type_bigint() }}) as n_matured,
        cast(actual_churners as {{ dbt.type_bigint() }}) as actual_churners,
        cast(predicted_churners as double) as predicted_churners,
        cast(observed_churn_rate as double) as observed_churn_rate,
        cast(mean_predicted as double) as mean_predicted,
        cast(auc as double) as auc,
        cast(log_loss as double) as log_loss,
        cast(brier as double) as brier,
        cast(ece as double) as ece,
        cast(aggregate_error as double) as aggregate_error,
        cast(psi as double) as psi
    from monitoring

)

select * from final
