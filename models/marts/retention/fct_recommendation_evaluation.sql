{#-
    How every recommender did out of time (ml_recommendation_evaluation,
    retention.recommend): one row per recommender x cutoff x customer group,
    with the hit rate, precision, recall, NDCG and catalogue coverage of its
    lists, which one was chosen on the validation cutoffs, and on the holdout
    cutoff its hit-rate difference to the best popularity list with a paired
    bootstrap interval.
-#}
{{ config(enabled=var('enable_recommendations') and var('enable_order_items')
    and var('enable_products') and target.type != 'spark') }}

with

evaluation as (

    select * from {{ ref('ml_recommendation_evaluation') }}

),

final as (

    select
        {{ retention.row_hash(['recommender', 'cutoff_date', 'customer_group']) }} as evaluation_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(as_of_date as date) as as_of_date,
        cast(recommender as {{ dbt.type_string() }}) as recommender,
        cast(cutoff_date as date) as cutoff_date,
        cast(cutoff_role as {{ dbt.type_string() }}) as cutoff_role,
        cast(window_end_date as date) as window_end_date,
        cast(customer_group as {{ dbt.type_string() }}) as customer_group,
        cast(list_length as {{ dbt.type_int() }}) as list_length,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(active_customers as {{ dbt.type_bigint() }}) as active_customers,
        cast(hit_customers as {{ dbt.type_bigint() }}) as hit_customers,
        cast(hit_rate as double) as hit_rate,
        cast(precision_at_n as double) as precision_at_n,
        cast(recall_at_n as double) as recall_at_n,
        cast(ndcg_at_n as double) as ndcg_at_n,
        cast(catalogue_coverage as double) as catalogue_coverage,
        cast(is_popularity_baseline as boolean) as is_popularity_baseline,
        cast(includes_owned as boolean) as includes_owned,
        cast(is_chosen as boolean) as is_chosen,
        cast(parameters_json as {{ dbt.type_string() }}) as parameters_json,
        cast(best_popularity_recommender as {{ dbt.type_string() }}) as best_popularity_recommender,
        cast(hit_rate_vs_best_popularity as double) as hit_rate_vs_best_popularity,
        cast(hit_rate_diff_ci_low as double) as hit_rate_diff_ci_low,
        cast(hit_rate_diff_ci_high as double) as hit_rate_diff_ci_high
    from evaluation

)

select * from final
