{#-
    The ranked contact list for as_of_date. For each scored customer:
        expected_value = P(churn) x CLV x retention_uplift - offer cost
    (the value a contact is expected to save; uplift, costs and budget are
    vars). Customers are ranked by expected value; the list keeps those with
    a positive expected value while the cumulative offer cost stays within
    retention_budget. The offer follows the strongest reason's family.
    Customers contacted within contact_cooldown_days are left out when a
    contacts source is enabled (enable_contacts).
-#}
{%- set offers = {
    'recency': ('win_back_discount', var('offer_cost_discount')),
    'purchase_frequency': ('win_back_discount', var('offer_cost_discount')),
    'btyd': ('win_back_discount', var('offer_cost_discount')),
    'discounts': ('personal_coupon', var('offer_cost_discount')),
    'spend': ('loyalty_perk', var('offer_cost_perk')),
    'engagement': ('reengagement_email', var('offer_cost_email')),
    'funnel': ('cart_reminder_email', var('offer_cost_email')),
} -%}

with

scores as (

    select * from {{ ref('fct_churn_scores') }}
    {#- This build's scoring date: the kept history may hold later dates (from a build
        with a later as_of_date), so not max(as_of_date) of the scores. #}
    where as_of_date = (select max(as_of_date) from {{ ref('int_cutoffs_generated') }})

),

customer_value as (

    select * from {{ ref('ml_customer_value') }}

),

{% if var('enable_contacts', false) %}
recent_contacts as (

    select distinct customer_id
    from {{ source('shop', 'contacts') }}
    where cast(contacted_at as date) >= cast({{ dbt.dateadd(
        'day', -1 * var('contact_cooldown_days'), "(select max(as_of_date) from scores)"
    ) }} as date)

),
{% endif %}

valued as (

    select
        scores.customer_id,
        scores.as_of_date,
        scores.churn_probability,
        scores.risk_tier,
        scores.reason_1 as reason,
        scores.reason_1_family as reason_family,
        coalesce(customer_value.clv, 0) as clv,
        case scores.reason_1_family
            {%- for family, offer in offers.items() %}
                when '{{ family }}' then '{{ offer[0] }}'
            {%- endfor %}
            else 'check_in_email'
        end as offer_type,
        case scores.reason_1_family
            {%- for family, offer in offers.items() %}
                when '{{ family }}' then {{ offer[1] }}
            {%- endfor %}
            else {{ var('offer_cost_email') }}
        end as offer_cost
    from scores
    left join customer_value
        on scores.customer_id = customer_value.customer_id
    {%- if var('enable_contacts', false) %}
    where scores.customer_id not in (select customer_id from recent_contacts)
    {%- endif %}

),

ranked as (

    select
        *,
        churn_probability * clv * {{ var('retention_uplift') }} - offer_cost as expected_value,
        cast(row_number() over (
            order by churn_probability * clv * {{ var('retention_uplift') }} - offer_cost desc, customer_id
        ) as {{ dbt.type_int() }}) as action_rank
    from valued

),

budgeted as (

    select
        *,
        sum(offer_cost) over (
            order by action_rank rows between unbounded preceding and current row
        ) as cumulative_cost
    from ranked
    where expected_value > 0

),

final as (

    select
        md5(concat(customer_id, '|', cast(as_of_date as {{ dbt.type_string() }}))) as action_id,
        action_rank,
        customer_id,
        as_of_date,
        cast(churn_probability as double) as churn_probability,
        risk_tier,
        cast(clv as double) as clv,
        cast(expected_value as double) as expected_value,
        offer_type,
        cast(offer_cost as double) as offer_cost,
        cast(cumulative_cost as double) as cumulative_cost,
        reason,
        reason_family
    from budgeted
    where cumulative_cost <= {{ var('retention_budget') }}

)

select * from final
