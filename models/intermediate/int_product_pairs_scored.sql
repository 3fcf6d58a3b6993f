{#-
    Item-to-item co-occurrence: for every ordered pair of products (A, B)
    bought by at least recommendation_min_pair_customers of the same customers
    before as_of_date, the Jaccard similarity of their buyer sets,
    |A and B| / |A or B|. Jaccard (not the raw count) keeps best sellers from
    being "related" to everything; the minimum support keeps two one-off
    buyers from making a pair look perfect (1 / 1).
-#}
{{ config(enabled=var('enable_order_items')) }}

with

customer_products as (

    select * from {{ ref('int_customer_products_aggregated') }}
    where completed_orders > 0

),

product_buyers as (

    select
        product_id,
        count(*) as buyers
    from customer_products
    group by 1

),

pairs as (

    select
        customer_products.product_id,
        related_products.product_id as related_product_id,
        count(*) as pair_buyers
    from customer_products
    inner join customer_products as related_products
        on customer_products.customer_id = related_products.customer_id
            and customer_products.product_id <> related_products.product_id
    group by 1, 2

),

final as (

    select
        pairs.product_id,
        pairs.related_product_id,
        cast(pairs.pair_buyers as {{ dbt.type_bigint() }}) as pair_buyers,
        cast(product_buyers.buyers as {{ dbt.type_bigint() }}) as product_buyers,
        cast(related_buyers.buyers as {{ dbt.type_bigint() }}) as related_product_buyers,
        cast(pairs.pair_buyers as double)
        / (product_buyers.buyers + related_buyers.buyers - pairs.pair_buyers) as jaccard_similarity
    from pairs
    inner join product_buyers
        on pairs.product_id = product_buyers.product_id
    inner join product_buyers as related_buyers
        on pairs.related_product_id = related_buyers.product_id
    where pairs.pair_buyers >= {{ var('recommendation_min_pair_customers', 2) }}

)

select * from final
