{#-
    The marts this build publishes, one row each with its row count. It refs
    every mart, so publish_marts (which refs this) runs only after all of them
    and their tests have passed. It lives in SQL because Python models cannot
    ref conditionally and a ref to a disabled model fails the parse: optional
    marts are listed under the same condition that enables them.
    A new mart must be added here (tests/python/test_publish.py checks).
-#}
{%- set marts = [
    'fct_customer_snapshots',
    'dim_definitions',
    'fct_source_quality',
    'fct_churn_scores',
    'fct_model_runs',
    'fct_model_evaluation',
    'fct_model_evaluation_curves',
    'fct_model_evaluation_origins',
    'fct_model_feature_importance',
    'fct_model_monitoring',
    'fct_cohort_retention',
    'dim_customers',
    'dim_segments',
    'fct_segment_retention',
    'fct_retention_actions',
    'metricflow_time_spine',
] -%}
{%- if var('enable_recommendations') and var('enable_order_items') and var('enable_products') -%}
    {%- do marts.append('fct_product_recommendations') -%}
    {%- do marts.append('fct_recommendation_evaluation') -%}
{%- endif -%}
{%- if var('enable_contacts') -%}
    {%- do marts.append('fct_campaign_results') -%}
    {%- do marts.append('fct_uplift_evaluation') -%}
    {%- do marts.append('fct_uplift_calibration') -%}
    {%- do marts.append('fct_uplift_qini_curve') -%}
{%- endif -%}

with

{% for mart in marts %}
    {{ mart }} as (

        select
            '{{ mart }}' as table_name,
            count(*) as row_count
        from {{ ref(mart) }}

    ),
{% endfor %}

final as (

    {% for mart in marts %}
        {%- if not loop.first %}
            union all
        {% endif %}
        select
            cast(table_name as {{ dbt.type_string() }}) as table_name,
            cast(row_count as {{ dbt.type_bigint() }}) as row_count
        from {{ mart }}
    {% endfor %}

)

select * from final
