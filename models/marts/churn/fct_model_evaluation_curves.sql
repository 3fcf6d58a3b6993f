{#- Lift by decile (1 = riskiest) and calibration bins (10 equal-width), per model and run. -#}
with

curves as (

    select * from {{ ref('ml_churn_evaluation_curves') }}

),

final as (

    select
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(curve as {{ dbt.type_string() }}) as curve,
        cast(bucket as {{ dbt.type_int() }}) as bucket,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(observed_rate as double) as observed_churn_rate,
        cast(mean_predicted as double) as mean_score,
        cast(lift as double) as lift,
        cast(cumulative_capture as double) as cumulative_capture
    from curves

)

select * from final
