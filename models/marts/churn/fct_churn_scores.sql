{#-
    Churn scores, customer x scoring date; every scoring date is kept, so
    predictions can be checked against outcomes once their horizon has passed.
-#}
with

scores as (

    select * from {{ ref('ml_churn_scores') }}

),

final as (

    select
        md5(concat(cast(customer_id as {{ dbt.type_string() }}), '|', cast(as_of_date as {{ dbt.type_string() }})))
            as churn_score_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(churn_probability as double) as churn_probability,
        cast(risk_tier as {{ dbt.type_string() }}) as risk_tier,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(reason_1 as {{ dbt.type_string() }}) as reason_1,
        cast(reason_2 as {{ dbt.type_string() }}) as reason_2,
        cast(reason_3 as {{ dbt.type_string() }}) as reason_3,
        cast(reason_1_family as {{ dbt.type_string() }}) as reason_1_family,
        cast(reason_2_family as {{ dbt.type_string() }}) as reason_2_family,
        cast(reason_3_family as {{ dbt.type_string() }}) as reason_3_family
    from scores

)

select * from final
