{#- The model registry: one row per trained model version (the history is kept on disk). -#}
with

runs as (

    select * from {{ ref('ml_churn_training') }}

),

final as (

    select
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(package_version as {{ dbt.type_string() }}) as package_version,
        cast(trained_at as {{ dbt.type_timestamp() }}) as trained_at,
        cast(as_of_date as date) as as_of_date,
        cast(validation_cutoff as date) as validation_cutoff_date,
        cast(validation_origins as {{ dbt.type_string() }}) as validation_origins_json,
        cast(selection_mode as {{ dbt.type_string() }}) as selection_mode,
        cast(training_cutoffs as {{ dbt.type_int() }}) as training_cutoffs,
        cast(purged_training_cutoffs as {{ dbt.type_int() }}) as purged_training_cutoffs,
        cast(training_rows as {{ dbt.type_bigint() }}) as training_rows,
        cast(validation_rows as {{ dbt.type_bigint() }}) as validation_rows,
        cast(chosen_model as {{ dbt.type_string() }}) as chosen_model,
        cast(learner as {{ dbt.type_string() }}) as learner,
        cast(model_kind as {{ dbt.type_string() }}) as chosen_model_kind,
        cast(calibration as {{ dbt.type_string() }}) as calibration,
        cast(final_model as {{ dbt.type_string() }}) as final_model,
        cast(decision_threshold as double) as decision_threshold,
        cast(selection_metric as {{ dbt.type_string() }}) as selection_metric,
        cast(best_baseline as {{ dbt.type_string() }}) as best_baseline,
        cast(best_baseline_log_loss as double) as best_baseline_log_loss,
        cast(share_above_0_99 as double) as share_above_0_99,
        cast(trained_through as date) as trained_through_date,
        cast(promoted as boolean) as is_promoted,
        cast(decision_reason as {{ dbt.type_string() }}) as decision_reason,
        cast(is_champion as boolean) as is_champion,
        cast(data_fingerprint as {{ dbt.type_string() }}) as data_fingerprint,
        cast(features as {{ dbt.type_string() }}) as features_json,
        cast(parameters as {{ dbt.type_string() }}) as parameters_json,
        cast(metrics as {{ dbt.type_string() }}) as validation_metrics_json,
        cast(artifact_path as {{ dbt.type_string() }}) as artifact_path
    from runs

)

select * from final
