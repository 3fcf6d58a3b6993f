{#-
    One row per customer: the latest (as_of_date) behaviour, segment, churn
    risk with reasons, and value. Customers who never completed an order have
    no snapshot, so their model columns are null. No raw PII: the email is not
    carried into marts at all, not even hashed.
    Point in time: everything comes from data before as_of_date (the features
    at the scoring cutoff), so a build with an earlier as_of_date ignores
    later orders and later signups.
-#}
with

snapshots as (

    select * from {{ ref('fct_customer_snapshots') }}
    where is_scoring_cutoff

),

as_of as (

    {{ retention.build_as_of_date() }}

),

scoring_features as (

    {#- Every customer with any activity before as_of_date, as of as_of_date. -#}
    select
        features.customer_id,
        features.orders_count,
        features.days_since_first_order,
        features.days_since_last_order,
        features.days_since_last_activity,
        cutoffs.cutoff_date
    from {{ ref('int_snapshots_featurized') }} as features
    inner join {{ ref('int_cutoffs_generated') }} as cutoffs
        on features.cutoff_date = cutoffs.cutoff_date
    where cutoffs.is_scoring_cutoff

),

orders as (

    select
        customer_id,
        cast({{ dbt.dateadd('day', '-1 * (days_since_first_order)', 'cutoff_date') }} as date)
            as first_order_date,
        cast({{ dbt.dateadd('day', '-1 * (days_since_last_order)', 'cutoff_date') }} as date)
            as last_order_date
    from scoring_features
    where orders_count > 0

),

{% if var('enable_customers') %}
    customers as (

        select * from {{ ref('stg_shop__customers') }}
        {#- not yet signed up at as_of_date: not a customer yet -#}
        where signup_date is null or signup_date < (select as_of.as_of_date from as_of)

    ),
{% endif %}

scores as (

    select * from {{ ref('fct_churn_scores') }}
    {#- This build's scoring date (the kept history may hold later dates). #}
    where as_of_date = (select as_of.as_of_date from as_of)

),

segments as (

    select * from {{ ref('ml_customer_segments') }}

),

rfm as (

    select * from {{ ref('int_customers_rfm_scored') }}

),

customer_value as (

    select * from {{ ref('ml_customer_value') }}

),

spine as (

    select customer_id from orders
    {%- if var('enable_customers') %}
        union
        select customer_id from customers
    {%- endif %}

),

final as (

    select
        ---------- ids
        spine.customer_id,
        as_of.as_of_date,

        ---------- profile
        {%- if var('enable_customers') %}
            customers.signup_date,
            customers.country_code,
            customers.acquisition_channel,
        {%- else %}
        cast(null as date) as signup_date,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as acquisition_channel,
        {%- endif %}
        orders.first_order_date,
        orders.last_order_date,

        ---------- behaviour at as_of_date
        snapshots.customer_id is not null as is_eligible_for_scoring,
        {{ retention.is_active('scoring_features.days_since_last_activity') }} as is_active,
        cast(snapshots.days_since_last_order as {{ dbt.type_int() }}) as days_since_last_order,
        cast(snapshots.orders_count as {{ dbt.type_int() }}) as orders_count,
        cast(snapshots.revenue_total as double) as revenue_total,
        cast(snapshots.avg_order_value as double) as avg_order_value,
        cast(snapshots.order_gap_mean_days as double) as order_gap_mean_days,

        ---------- segments
        cast(segments.segment_id as {{ dbt.type_int() }}) as segment_id,
        cast(segments.segment_name as {{ dbt.type_string() }}) as segment_name,
        rfm.rfm_segment,
        rfm.rfm_cell,

        ---------- churn risk
        scores.churn_probability,
        scores.risk_tier,
        scores.reason_1 as churn_reason_1,
        scores.reason_2 as churn_reason_2,
        scores.reason_3 as churn_reason_3,
        scores.model_version as churn_model_version,

        ---------- value
        cast(customer_value.p_alive as double) as p_alive,
        cast(customer_value.expected_purchases_horizon as double) as expected_purchases_horizon,
        cast(customer_value.clv as double) as clv,
        cast(customer_value.clv_horizon_days as {{ dbt.type_int() }}) as clv_horizon_days,
        cast(customer_value.clv * scores.churn_probability as double) as revenue_at_risk

    from spine
    cross join as_of
    left join orders on spine.customer_id = orders.customer_id
    {%- if var('enable_customers') %}
        left join customers on spine.customer_id = customers.customer_id
    {%- endif %}
    left join scoring_features on spine.customer_id = scoring_features.customer_id
    left join snapshots on spine.customer_id = snapshots.customer_id
    left join scores on spine.customer_id = scores.customer_id
    left join segments on spine.customer_id = segments.customer_id
    left join rfm on spine.customer_id = rfm.customer_id
    left join customer_value on spine.customer_id = customer_value.customer_id

)

select * from final
