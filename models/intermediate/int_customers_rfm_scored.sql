{#-
    Transparent RFM segmentation of the customers at as_of_date (buyers only:
    RFM is about purchases, so under activity churn the non-buyers are left out).
      - R, F, M are quintile scores 1-5 from ntile(5): recency on days since the
        last order (5 = most recent), frequency on completed orders, monetary on
        revenue. Tied values share the lowest score of their group, so equal
        customers never get different scores (all one-time buyers get F = 1).
      - FM = (F + M) / 2. The named segment is the first rule that holds in
        the table below (docs/segments.md; tested in _int_rfm__unit_tests.yml).
        Every (R, F, M) combination matches exactly one rule.

        segment              rule (first match wins)
        Champions            R = 5 and FM >= 4
        Loyal Customers      R >= 3 and FM >= 4
        New Customers        R = 5 and F = 1
        Promising            R = 4 and F = 1
        Potential Loyalists  R >= 4
        Need Attention       R = 3 and FM >= 3
        About To Sleep       R = 3
        Can't Lose Them      FM >= 4.5            (R <= 2 from here on)
        At Risk              FM >= 3
        Hibernating          R = 2 or FM >= 2
        Lost                 R = 1 and FM < 2

    The rules compare F + M (2-10) with twice the FM thresholds, so the SQL
    needs integers only.

    Without amounts (a customer with an order without order_total has no
    revenue_total; README, "Orders without amounts") M is unknown: monetary
    tiles are taken among the customers with a known revenue only, M is null,
    the cell reads e.g. `35-`, and the rules use FM = F.
-#}

with

features as (

    select * from {{ ref('int_snapshots_featurized') }}

),

eligible as (

    select * from {{ ref('int_snapshots_labelled') }}

),

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}
    where is_scoring_cutoff

),

snapshots as (

    {#- The customers scored at as_of_date (eligible there) who have bought: the rows
        of fct_customer_snapshots, read from its inputs (intermediate reads no mart). -#}
    select
        features.customer_id,
        cutoffs.as_of_date,
        cast(features.days_since_last_order as double) as days_since_last_order,
        cast(features.orders_count as double) as orders_count,
        cast(features.revenue_total as double) as revenue_total
    from features
    inner join cutoffs
        on features.cutoff_date = cutoffs.cutoff_date
    inner join eligible
        on features.customer_id = eligible.customer_id
            and features.cutoff_date = eligible.cutoff_date
    where features.orders_count > 0

),

tiled as (

    select
        customer_id,
        as_of_date,
        days_since_last_order,
        orders_count,
        revenue_total,
        -- ntile's result type differs between engines: cast it.
        cast(ntile(5) over (
            partition by as_of_date order by days_since_last_order desc
        ) as {{ dbt.type_int() }}) as recency_tile,
        cast(ntile(5) over (
            partition by as_of_date order by orders_count asc
        ) as {{ dbt.type_int() }}) as frequency_tile,
        -- among known revenues only (engines order nulls differently)
        case
            when revenue_total is not null
                then cast(ntile(5) over (
                        partition by as_of_date, revenue_total is null order by revenue_total asc
                    ) as {{ dbt.type_int() }})
        end as monetary_tile
    from snapshots

),

scored as (

    -- ntile splits a tie across tiles arbitrarily; the lowest tile of the tie wins.
    select
        customer_id,
        as_of_date,
        days_since_last_order,
        orders_count,
        revenue_total,
        cast(min(recency_tile) over (
            partition by as_of_date, days_since_last_order
        ) as {{ dbt.type_int() }}) as recency_score,
        cast(min(frequency_tile) over (
            partition by as_of_date, orders_count
        ) as {{ dbt.type_int() }}) as frequency_score,
        cast(min(monetary_tile) over (
            partition by as_of_date, revenue_total
        ) as {{ dbt.type_int() }}) as monetary_score
    from tiled

),

filled as (

    -- M in the rules: F when the revenue is unknown
    select
        *,
        coalesce(monetary_score, frequency_score) as rule_monetary_score
    from scored

),

segmented as (

    select
        *,
        case
            when recency_score = 5 and frequency_score + rule_monetary_score >= 8 then 'Champions'
            when recency_score >= 3 and frequency_score + rule_monetary_score >= 8 then 'Loyal Customers'
            when recency_score = 5 and frequency_score = 1 then 'New Customers'
            when recency_score = 4 and frequency_score = 1 then 'Promising'
            when recency_score >= 4 then 'Potential Loyalists'
            when recency_score = 3 and frequency_score + rule_monetary_score >= 6 then 'Need Attention'
            when recency_score = 3 then 'About To Sleep'
            when frequency_score + rule_monetary_score >= 9
                then {{ dbt.string_literal(dbt.escape_single_quotes("Can't Lose Them")) }}
            when frequency_score + rule_monetary_score >= 6 then 'At Risk'
            when recency_score = 2 or frequency_score + rule_monetary_score >= 4 then 'Hibernating'
            -- R = 1 and FM < 2: every other combination matched above.
            else 'Lost'
        end as rfm_segment
    from filled

),

final as (

    select
        customer_id,
        as_of_date,
        days_since_last_order,
        orders_count,
        revenue_total,
        recency_score,
        frequency_score,
        monetary_score,
        cast(frequency_score + rule_monetary_score as double) / 2 as frequency_monetary_score,
        {{ dbt.concat([
            'cast(recency_score as ' ~ dbt.type_string() ~ ')',
            'cast(frequency_score as ' ~ dbt.type_string() ~ ')',
            "coalesce(cast(monetary_score as " ~ dbt.type_string() ~ "), '-')",
        ]) }} as rfm_cell,
        rfm_segment
    from segmented

)

select * from final
