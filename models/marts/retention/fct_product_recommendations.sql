{#-
    Up to recommendations_per_customer products for each at-risk customer
    (risk tier in recommendation_risk_tiers in this build's scores, at
    as_of_date), never one they already ordered:
    1. co_occurrence: products related to what they bought, score = sum of the
       Jaccard similarities to each of their products (int_product_pairs_scored);
    2. popularity, only to fill the list: score = share of the customers who
       bought in the recommendation_popularity_days before as_of_date that
       bought the product.
    Only catalog products are offered; only orders before as_of_date are used.
-#}
{{ config(enabled=var('enable_order_items') and var('enable_products') and target.type != 'spark') }}

{%- set per_customer = var('recommendations_per_customer', 5) -%}
{%- set risk_tiers = "'" ~ var('recommendation_risk_tiers', ['high', 'medium']) | join("', '") ~ "'" -%}

with

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

scores as (

    select * from {{ ref('fct_churn_scores') }}

),

customer_products as (

    select * from {{ ref('int_customer_products_aggregated') }}

),

product_pairs as (

    select * from {{ ref('int_product_pairs_scored') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

as_of as (

    select max(as_of_date) as as_of_date
    from cutoffs

),

at_risk_customers as (

    {#- The score history keeps older scoring dates: use this build's. -#}
    select
        scores.customer_id,
        scores.as_of_date
    from scores
    inner join as_of
        on scores.as_of_date = as_of.as_of_date
    where scores.risk_tier in ({{ risk_tiers }})

),

owned_counts as (

    select
        customer_id,
        count(*) as owned_products
    from customer_products
    group by 1

),

co_occurrence_candidates as (

    select
        at_risk_customers.customer_id,
        product_pairs.related_product_id as product_id,
        {{ retention.exact_sum('product_pairs.jaccard_similarity') }} as score
    from at_risk_customers
    inner join customer_products
        on at_risk_customers.customer_id = customer_products.customer_id
    inner join product_pairs
        on customer_products.product_id = product_pairs.product_id
    where customer_products.completed_orders > 0
    group by 1, 2

),

recent_buyers as (

    select
        customer_products.customer_id,
        customer_products.product_id
    from customer_products
    cross join as_of
    where customer_products.last_purchased_date
        >= cast({{ dbt.dateadd('day', -1 * var('recommendation_popularity_days', 90), 'as_of.as_of_date') }} as date)

),

recent_buyer_count as (

    select count(distinct customer_id) as buyers
    from recent_buyers

),

product_recent_buyers as (

    {#- Catalog products only, so the rank bound below holds. -#}
    select
        recent_buyers.product_id,
        count(*) as buyers
    from recent_buyers
    inner join products
        on recent_buyers.product_id = products.product_id
    group by 1

),

popular_products as (

    select
        product_recent_buyers.product_id,
        cast(product_recent_buyers.buyers as double) / recent_buyer_count.buyers as score,
        cast(row_number() over (
            order by product_recent_buyers.buyers desc, product_recent_buyers.product_id asc
        ) as {{ dbt.type_int() }}) as popularity_rank
    from product_recent_buyers
    cross join recent_buyer_count

),

popularity_candidates as (

    {#- A customer can lose at most owned_products + per_customer of the most
        popular products to exclusions and to co-occurrence picks, so ranks
        beyond that can never be needed: this bounds the cross join. -#}
    select
        at_risk_customers.customer_id,
        popular_products.product_id,
        popular_products.score
    from at_risk_customers
    left join owned_counts
        on at_risk_customers.customer_id = owned_counts.customer_id
    inner join popular_products
        on popular_products.popularity_rank <= coalesce(owned_counts.owned_products, 0) + 2 * {{ per_customer }}

),

candidates as (

    select
        customer_id,
        product_id,
        score,
        'co_occurrence' as recommendation_source,
        1 as source_priority
    from co_occurrence_candidates
    union all
    select
        customer_id,
        product_id,
        score,
        'popularity' as recommendation_source,
        2 as source_priority
    from popularity_candidates

),

eligible as (

    {#- Not already ordered (completed or returned), and in the catalog. -#}
    select
        candidates.customer_id,
        candidates.product_id,
        candidates.score,
        candidates.recommendation_source,
        candidates.source_priority,
        products.category,
        cast(row_number() over (
            partition by candidates.customer_id, candidates.product_id
            order by candidates.source_priority
        ) as {{ dbt.type_int() }}) as source_row_number
    from candidates
    inner join products
        on candidates.product_id = products.product_id
    left join customer_products
        on candidates.customer_id = customer_products.customer_id
            and candidates.product_id = customer_products.product_id
    where customer_products.product_id is null

),

ranked as (

    {#- Co-occurrence first; popularity only fills what is left. -#}
    select
        customer_id,
        product_id,
        category,
        score,
        recommendation_source,
        cast(row_number() over (
            partition by customer_id
            order by source_priority asc, score desc, product_id asc
        ) as {{ dbt.type_int() }}) as recommendation_rank
    from eligible
    where source_row_number = 1

),

final as (

    select
        {{ retention.row_hash(['ranked.customer_id', 'ranked.recommendation_rank']) }} as recommendation_id,
        cast(ranked.customer_id as {{ dbt.type_string() }}) as customer_id,
        as_of.as_of_date,
        ranked.recommendation_rank,
        cast(ranked.product_id as {{ dbt.type_string() }}) as product_id,
        cast(ranked.category as {{ dbt.type_string() }}) as category,
        cast(ranked.score as double) as score,
        cast(ranked.recommendation_source as {{ dbt.type_string() }}) as recommendation_source
    from ranked
    cross join as_of
    where ranked.recommendation_rank <= {{ per_customer }}

)

select * from final
