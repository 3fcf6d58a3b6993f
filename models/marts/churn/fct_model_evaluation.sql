{#-
    Every recipe (candidate), baseline and champion of every run: the means of
    its metrics over the run's validation origins, and their spread
    (fct_model_evaluation_origins has each origin). Ranking-only baselines
    (the recency rule) have no probability metrics.
-#}
with

evaluation as (

    select * from {{ ref('ml_churn_evaluation') }}

),

final as (

    select
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(model_kind as {{ dbt.type_string() }}) as model_kind,
        cast(learner as {{ dbt.type_string() }}) as learner,
        cast(calibration as {{ dbt.type_string() }}) as calibration,
        cast(final_rule as {{ dbt.type_string() }}) as final_rule,
        cast(validation_cutoff as date) as validation_cutoff_date,
        cast(origins as {{ dbt.type_int() }}) as validation_origins,
        cast(is_chosen as boolean) as is_chosen,
        cast(is_shortlisted as boolean) as is_shortlisted,
        cast(n as {{ dbt.type_bigint() }}) as validation_rows,
        cast(base_rate as double) as base_rate,
        cast(auc as double) as auc,
        cast(pr_auc as double) as pr_auc,
        cast(log_loss as double) as log_loss,
        cast(log_loss_std as double) as log_loss_std,
        cast(log_loss_min as double) as log_loss_min,
        cast(log_loss_max as double) as log_loss_max,
        cast(auc_min as double) as auc_min,
        cast(auc_max as double) as auc_max,
        cast(brier as double) as brier,
        cast(ece as double) as ece,
        cast(lift_top_decile as double) as lift_top_decile,
        cast(aggregate_error as double) as aggregate_error,
        cast(mean_prediction as double) as mean_prediction,
        cast(share_above_0_99 as double) as share_above_0_99,
        cast(threshold as double) as decision_threshold,
        cast(accuracy as double) as accuracy,
        cast(precision as double) as precision_at_threshold,
        cast(recall as double) as recall_at_threshold,
        cast(f1 as double) as f1_at_threshold,
        cast(true_positives as {{ dbt.type_bigint() }}) as true_positives,
        cast(false_positives as {{ dbt.type_bigint() }}) as false_positives,
        cast(true_negatives as {{ dbt.type_bigint() }}) as true_negatives,
        cast(false_negatives as {{ dbt.type_bigint() }}) as false_negatives
    from evaluation

)

select * from final
