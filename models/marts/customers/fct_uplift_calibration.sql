{#-
    Predicted against observed uplift on the held-out campaign (issue 18): for
    each uplift learner and offer, the held-out rows in deciles of predicted
    uplift (1 = highest), the mean prediction and the observed effect in the
    decile (treated retention rate - control retention rate, with a 95% Wald
    interval). A calibrated learner's deciles lie on the diagonal; a useful
    one's observed effects fall from decile 1 to 10.
-#}
{#- off on Spark like every mart in marts/customers (dbt_project.yml): a file's config wins over the folder's -#}
{{ config(enabled=var('enable_contacts') and target.type != 'spark') }}
{%- set z = 1.959964 -%}

with

predictions as (

    select * from {{ ref('ml_uplift_validation') }}
    where rule_kind = 'uplift_model'

),

deciled as (

    select
        *,
        ntile(10) over (partition by offer_type, rule order by score desc, contact_id) as uplift_decile
    from predictions

),

deciles as (

    select
        campaign_id,
        offer_type,
        rule,
        uplift_decile,
        count(*) as rows_in_decile,
        avg(score) as predicted_uplift,
        sum(case when is_treatment then 1 else 0 end) as treated_rows,
        sum(case when is_treatment then 0 else 1 end) as control_rows,
        avg(case when is_treatment then cast(is_retained as double) end) as retention_rate_treated,
        avg(case when not is_treatment then cast(is_retained as double) end) as retention_rate_control
    from deciled
    group by campaign_id, offer_type, rule, uplift_decile

),

final as (

    select
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(offer_type as {{ dbt.type_string() }}) as offer_type,
        cast(rule as {{ dbt.type_string() }}) as rule,
        cast(uplift_decile as {{ dbt.type_int() }}) as uplift_decile,
        cast(rows_in_decile as bigint) as rows_in_decile,
        cast(treated_rows as bigint) as treated_rows,
        cast(control_rows as bigint) as control_rows,
        cast(predicted_uplift as double) as predicted_uplift,
        cast(retention_rate_treated - retention_rate_control as double) as observed_uplift,
        cast(
            retention_rate_treated - retention_rate_control
            - {{ z }} * sqrt(
                retention_rate_treated * (1 - retention_rate_treated) / nullif(treated_rows, 0)
                + retention_rate_control * (1 - retention_rate_control) / nullif(control_rows, 0)
            ) as double
        ) as observed_uplift_ci_low,
        cast(
            retention_rate_treated - retention_rate_control
            + {{ z }} * sqrt(
                retention_rate_treated * (1 - retention_rate_treated) / nullif(treated_rows, 0)
                + retention_rate_control * (1 - retention_rate_control) / nullif(control_rows, 0)
            ) as double
        ) as observed_uplift_ci_high
    from deciles

)

select * from final
