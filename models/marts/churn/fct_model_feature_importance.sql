{#-
    Global importance of the chosen recipe of every run: the rise in validation
    log loss when a feature (scope 'feature') or a whole feature family (scope
    'family') is shuffled across customers, on the latest validation origin's
    rows, with the recipe as fitted for that origin (out of time).
-#}
with

importance as (

    select * from {{ ref('ml_churn_feature_importance') }}

),

final as (

    select
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(scope as {{ dbt.type_string() }}) as scope,
        cast(feature as {{ dbt.type_string() }}) as feature_name,
        cast(family as {{ dbt.type_string() }}) as feature_family,
        cast(importance as double) as log_loss_increase,
        cast(importance_std as double) as log_loss_increase_std,
        cast(rank() over (
            partition by model_version, scope order by importance desc, feature asc
        ) as {{ dbt.type_int() }}) as importance_rank,
        cast(rows as {{ dbt.type_bigint() }}) as rows_evaluated,
        cast(repeats as {{ dbt.type_int() }}) as shuffles
    from importance

)

select * from final
