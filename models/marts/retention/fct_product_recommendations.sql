{#-
    Up to recommendations_per_customer products for each customer at risk at
    as_of_date, from the recommender chosen out of time
    (ml_recommendation_evaluation), with the source and the reason in words.
    The lists are made in Python (ml_product_recommendations,
    retention.recommend); this mart fixes the contract.
-#}
{{ config(enabled=var('enable_recommendations') and var('enable_order_items')
    and var('enable_products') and target.type != 'spark') }}

with

recommendations as (

    select * from {{ ref('ml_product_recommendations') }}

),

final as (

    select
        {{ retention.row_hash(['customer_id', 'recommendation_rank']) }} as recommendation_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(recommendation_rank as {{ dbt.type_int() }}) as recommendation_rank,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(score as double) as score,
        cast(recommendation_source as {{ dbt.type_string() }}) as recommendation_source,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(is_repeat_purchase as boolean) as is_repeat_purchase,
        cast(recommender as {{ dbt.type_string() }}) as recommender
    from recommendations

)

select * from final
