{#-
    The targeting rules side by side on the held-out campaign (issue 18): the
    uplift learners against the risk, risk x value and random rules, per
    offer, with the estimated incremental profit of each rule's list at
    retention_budget and paired bootstrap intervals (ml_uplift_evaluation).
-#}
{#- off on Spark like every mart in marts/customers (dbt_project.yml): a file's config wins over the folder's -#}
{{ config(enabled=var('enable_contacts') and target.type != 'spark') }}

with

evaluation as (

    select * from {{ ref('ml_uplift_evaluation') }}

),

final as (

    select
        ---------- grain
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(offer_type as {{ dbt.type_string() }}) as offer_type,
        cast(rule as {{ dbt.type_string() }}) as rule,
        cast(rule_kind as {{ dbt.type_string() }}) as rule_kind,

        ---------- data
        cast(evaluation_rows as bigint) as evaluation_rows,
        cast(training_rows as bigint) as training_rows,
        cast(training_campaigns as bigint) as training_campaigns,

        ---------- ranking quality
        cast(qini_coefficient as double) as qini_coefficient,
        cast(uplift_top_10pct as double) as uplift_top_10pct,
        cast(uplift_top_30pct as double) as uplift_top_30pct,

        ---------- the list at the budget
        cast(budget as double) as budget,
        cast(selected_rows as bigint) as selected_rows,
        cast(selected_cost as double) as selected_cost,
        cast(incremental_profit as double) as incremental_profit,
        cast(incremental_profit_ci_low as double) as incremental_profit_ci_low,
        cast(incremental_profit_ci_high as double) as incremental_profit_ci_high,
        cast(best_baseline as {{ dbt.type_string() }}) as best_baseline,
        cast(difference_vs_best_baseline as double) as difference_vs_best_baseline,
        cast(difference_ci_low as double) as difference_ci_low,
        cast(difference_ci_high as double) as difference_ci_high,
        cast(is_chosen as boolean) as is_chosen

    from evaluation

)

select * from final
