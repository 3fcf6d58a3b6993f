{{ config(enabled=var('enable_recommendations') and var('enable_order_items')
    and var('enable_products') and target.type != 'spark') }}

{#-
    Products the customer already ordered (completed or returned, before
    as_of_date) appear only as recommend_owned_products allows:
    - every row's is_repeat_purchase says whether the product is owned;
    - never: no owned product is listed;
    - learned: owned products only when the chosen recommender may list them
      (fct_recommendation_evaluation: is_chosen and includes_owned), and the
      sources that are new to you (co_occurrence, als) never list one, while
      buy_again lists only owned products;
    - always: anything goes (only the flag is checked).
    Returns the offending rows.
-#}
{%- set rule = var('recommend_owned_products') -%}

with

recommendations as (

    select * from {{ ref('fct_product_recommendations') }}

),

owned as (

    select
        customer_id,
        product_id
    from {{ ref('int_customer_products_aggregated') }}

),

chosen as (

    {#- One row even when nothing was evaluated (max over no rows is null). -#}
    select max(case when includes_owned then 1 else 0 end) as allows_owned
    from {{ ref('fct_recommendation_evaluation') }}
    where is_chosen

),

checked as (

    select
        recommendations.customer_id,
        recommendations.product_id,
        recommendations.recommendation_source,
        recommendations.is_repeat_purchase,
        owned.product_id is not null as is_owned,
        coalesce(chosen.allows_owned, 0) = 1 as allows_owned
    from recommendations
    left join owned
        on recommendations.customer_id = owned.customer_id
            and recommendations.product_id = owned.product_id
    cross join chosen

)

select * from checked
where is_repeat_purchase <> is_owned
    {%- if rule == 'never' %}
        or is_owned
    {%- elif rule == 'learned' %}
        or (is_owned and not allows_owned)
        or (is_owned and recommendation_source in ('co_occurrence', 'als'))
        or (not is_owned and recommendation_source = 'buy_again')
    {%- endif %}
