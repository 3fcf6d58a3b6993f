{#-
    Every recipe, baseline and champion of every run at each validation origin:
    its predictions there were made exactly as it would ship at that date
    (models and calibration fitted on labels known by then) and scored on the
    origin's labels. fct_model_evaluation holds the means over origins.
-#}
with

origins as (

    select * from {{ ref('ml_churn_evaluation_origins') }}

),

final as (

    select
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(model_kind as {{ dbt.type_string() }}) as model_kind,
        cast(origin_date as date) as origin_date,
        cast(calibration_cutoff as date) as calibration_cutoff_date,
        cast(n as {{ dbt.type_bigint() }}) as validation_rows,
        cast(base_rate as double) as base_rate,
        cast(auc as double) as auc,
        cast(pr_auc as double) as pr_auc,
        cast(log_loss as double) as log_loss,
        cast(brier as double) as brier,
        cast(ece as double) as ece,
        cast(lift_top_decile as double) as lift_top_decile,
        cast(aggregate_error as double) as aggregate_error,
        cast(mean_prediction as double) as mean_prediction,
        cast(share_above_0_99 as double) as share_above_0_99
    from origins

)

select * from final
