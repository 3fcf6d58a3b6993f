{#-
    The ranked contact list for as_of_date. For each scored customer:
        expected_value = P(churn) x customer_value x retention_uplift - offer cost
    (the value a contact is expected to save; uplift, costs and budget are
    vars). customer_value is, by value_basis (README, "Orders without amounts"):
      - 'clv': the customer's CLV (BG/NBD + Gamma-Gamma), when it is known;
      - 'expected_orders_x_value_per_order': BG/NBD expected orders over
        clv_horizon_days x value_per_order, when CLV is unknown (orders without
        amounts). value_per_order is the var, or by default the mean amount of
        the clean completed orders that have one;
      - 'expected_orders': no amount anywhere and no value_per_order var. The
        value cannot be put in money: expected_value is null, customers rank by
        expected orders saved (P(churn) x expected orders x uplift), and the
        offers' costs still count against the budget.
    Customers are ranked by expected value; the list keeps those with a
    positive expected value while the cumulative offer cost stays within
    retention_budget. The offer follows the strongest reason's family.

    P(churn) comes from the champion model (score_source 'champion_model').
    When no model scored this build (churn_on_insufficient_labels: skip with no
    champion), it comes from the BG/NBD baseline, P(no purchase in the
    horizon), and the reason says so (score_source 'btyd_p_no_purchase').
    Customers contacted within contact_cooldown_days are left out when a
    contacts source is enabled (enable_contacts).

    With past campaigns (enable_contacts) and an uplift model that beat the
    baselines on the held-out campaign (ml_uplift_evaluation), a customer it
    scored gets the offer with the highest expected incremental profit,
    estimated uplift x customer_value - offer cost (uplift_source 'model');
    a customer whose estimated uplift is negative for every offer is never
    contacted: listed as assignment 'do_not_disturb' when today's rule would
    have contacted them. Everyone else keeps today's rule (uplift_source
    'assumed', the uplift being P(churn) x retention_uplift).

    Every list holds out a random control group, so that the campaign it
    starts measures itself (issue 18; fct_campaign_results reads the contacts
    source it comes back as): a customer is in the control group when the
    first 4 hex digits of md5(customer_id | campaign_id) fall below
    control_share x 65536. The hash is the same on every engine and in any
    tool (a BI tool or Python can recompute it). Control rows are listed with
    assignment 'control' and the offer they would have had, but are not
    contacted: their offers do not count against retention_budget.
-#}
{%- set control_digits = '%04x' % ((var('control_share') * 65536) | round | int) -%}
{%- set offers = {
    'recency': ('win_back_discount', var('offer_cost_discount')),
    'purchase_frequency': ('win_back_discount', var('offer_cost_discount')),
    'btyd': ('win_back_discount', var('offer_cost_discount')),
    'discounts': ('personal_coupon', var('offer_cost_discount')),
    'spend': ('loyalty_perk', var('offer_cost_perk')),
    'engagement': ('reengagement_email', var('offer_cost_email')),
    'funnel': ('cart_reminder_email', var('offer_cost_email')),
} -%}
{%- set value_per_order = var('value_per_order', none) -%}

with

as_of as (

    {#- This build's scoring date (the kept score history may hold later dates). #}
    {{ retention.build_as_of_date() }}

),

scores as (

    select * from {{ ref('fct_churn_scores') }}
    where as_of_date = (select as_of.as_of_date from as_of)

),

customer_value as (

    select * from {{ ref('ml_customer_value') }}

),

order_amounts as (

    select avg(order_total) as mean_order_value
    from {{ ref('stg_shop__orders') }}
    where is_completed and order_total is not null

),

{% if var('enable_contacts', false) %}
recent_contacts as (

    -- control rows were held out, not contacted: only treatment rows start a cooldown
    select distinct customer_id
    from {{ ref('stg_shop__contacts') }}
    where is_treatment and contacted_date >= cast({{ dbt.dateadd(
        'day', -1 * var('contact_cooldown_days'), "(select as_of.as_of_date from as_of)"
    ) }} as date)

),
{% endif %}

model_scores as (

    select
        customer_id,
        as_of_date,
        churn_probability,
        risk_tier,
        reason_1 as reason,
        reason_1_family as reason_family,
        'champion_model' as score_source
    from scores

),

baseline_scores as (

    {#- Only when the champion scored nobody at this date: no model this build. #}
    select
        customer_value.customer_id,
        as_of.as_of_date,
        customer_value.p_no_purchase_horizon as churn_probability,
        case
            when customer_value.p_no_purchase_horizon >= {{ var('high_risk_threshold') }} then 'high'
            when customer_value.p_no_purchase_horizon >= {{ var('medium_risk_threshold') }} then 'medium'
            else 'low'
        end as risk_tier,
        concat(
            'no churn model this build (too few labelled rows; churn_on_insufficient_labels: skip): ',
            'BG/NBD P(no purchase in ', '{{ var("churn_horizon_days") }}', ' days) = ',
            cast(round(customer_value.p_no_purchase_horizon, 2) as {{ dbt.type_string() }})
        ) as reason,
        'btyd' as reason_family,
        'btyd_p_no_purchase' as score_source
    from customer_value
    cross join as_of
    where
        customer_value.p_no_purchase_horizon is not null
        and (select count(*) from scores) = 0

),

churn_risk as (

    select * from model_scores
    union all
    select * from baseline_scores

),

valued as (

    select
        churn_risk.customer_id,
        churn_risk.as_of_date,
        churn_risk.churn_probability,
        churn_risk.risk_tier,
        churn_risk.reason,
        churn_risk.reason_family,
        churn_risk.score_source,
        customer_value.clv,
        customer_value.expected_purchases_clv_horizon as expected_orders,
        {{ value_per_order if value_per_order is not none else 'order_amounts.mean_order_value' }}
            as value_per_order,
        case
            when customer_value.clv is not null then 'clv'
            when customer_value.expected_purchases_clv_horizon is not null
                and {{ value_per_order if value_per_order is not none else 'order_amounts.mean_order_value' }}
                is not null
                then 'expected_orders_x_value_per_order'
            when customer_value.expected_purchases_clv_horizon is not null then 'expected_orders'
        end as value_basis,
        case churn_risk.reason_family
            {%- for family, offer in offers.items() %}
                when '{{ family }}' then '{{ offer[0] }}'
            {%- endfor %}
            else 'check_in_email'
        end as offer_type,
        case churn_risk.reason_family
            {%- for family, offer in offers.items() %}
                when '{{ family }}' then {{ offer[1] }}
            {%- endfor %}
            else {{ var('offer_cost_email') }}
        end as offer_cost
    from churn_risk
    cross join order_amounts
    left join customer_value
        on churn_risk.customer_id = customer_value.customer_id
    {%- if var('enable_contacts', false) %}
    where churn_risk.customer_id not in (select customer_id from recent_contacts)
    {%- endif %}

),

money_valued as (

    select
        *,
        case value_basis
            when 'clv' then clv
            when 'expected_orders_x_value_per_order' then expected_orders * value_per_order
        end as customer_value
    from valued
    -- a customer without any value (no BTYD fit) cannot be ranked
    where value_basis is not null

),

{% if var('enable_contacts', false) %}
    uplift_scores as (

        select * from {{ ref('ml_uplift_scores') }}

    ),
{% else %}
    uplift_scores as (

        {#- no past campaigns: no uplift scores, everyone keeps today's rule #}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as offer_type,
            cast(null as double) as offer_cost,
            cast(null as double) as uplift
        where 1 = 0

    ),
{% endif %}

uplift_options as (

    {#- Each tested offer's expected incremental profit: uplift x value - cost. #}
    select
        money_valued.customer_id,
        uplift_scores.offer_type,
        uplift_scores.offer_cost,
        uplift_scores.uplift,
        uplift_scores.uplift * money_valued.customer_value - uplift_scores.offer_cost as expected_value,
        row_number() over (
            partition by money_valued.customer_id
            order by
                coalesce(
                    uplift_scores.uplift * money_valued.customer_value - uplift_scores.offer_cost,
                    uplift_scores.uplift
                ) desc,
                uplift_scores.offer_type
        ) as option_rank,
        max(uplift_scores.uplift) over (partition by money_valued.customer_id) as best_uplift
    from money_valued
    inner join uplift_scores
        on money_valued.customer_id = uplift_scores.customer_id

),

best_offers as (

    select * from uplift_options
    where option_rank = 1

),

targeted as (

    {#- The uplift model's best offer where it scored the customer (uplift_source
        'model'), today's assumed-uplift rule elsewhere ('assumed'). #}
    select
        money_valued.customer_id,
        money_valued.as_of_date,
        money_valued.churn_probability,
        money_valued.risk_tier,
        money_valued.score_source,
        money_valued.clv,
        money_valued.expected_orders,
        money_valued.value_per_order,
        money_valued.value_basis,
        money_valued.customer_value,
        money_valued.reason_family,
        case when best_offers.customer_id is null then 'assumed' else 'model' end as uplift_source,
        coalesce(best_offers.offer_type, money_valued.offer_type) as offer_type,
        coalesce(best_offers.offer_cost, money_valued.offer_cost) as offer_cost,
        coalesce(best_offers.uplift, money_valued.churn_probability * {{ var('retention_uplift') }}) as uplift,
        coalesce(best_offers.best_uplift < 0, false) as is_do_not_disturb,
        case
            when best_offers.best_uplift < 0
                then concat(
                        'do not disturb: a contact is expected to lower retention (estimated uplift ',
                        cast(round(best_offers.best_uplift, 3) as {{ dbt.type_string() }}), ')'
                    )
            else money_valued.reason
        end as reason,
        case
            when best_offers.customer_id is null
                then money_valued.churn_probability * money_valued.customer_value * {{ var('retention_uplift') }}
                    - money_valued.offer_cost
            else best_offers.expected_value
        end as expected_value,
        -- today's rule, to list the customers it would contact but the model says to leave alone
        money_valued.churn_probability * money_valued.customer_value * {{ var('retention_uplift') }}
        - money_valued.offer_cost as assumed_expected_value
    from money_valued
    left join best_offers
        on money_valued.customer_id = best_offers.customer_id

),

ranked as (

    select
        *,
        concat('retention_', cast(as_of_date as {{ dbt.type_string() }})) as campaign_id,
        case
            when is_do_not_disturb then 'do_not_disturb'
            when substr(md5(concat(
                    customer_id, '|', 'retention_', cast(as_of_date as {{ dbt.type_string() }})
                )), 1, 4) < '{{ control_digits }}'
                then 'control'
            else 'treatment'
        end as assignment,  -- noqa: RF04
        uplift * expected_orders as expected_orders_saved,
        cast(row_number() over (
            order by
                case when is_do_not_disturb then 1 else 0 end,
                case when value_basis = 'expected_orders' then 1 else 0 end,
                coalesce(expected_value, uplift * expected_orders) desc,
                customer_id
        ) as {{ dbt.type_int() }}) as action_rank
    from targeted

),

budgeted as (

    select
        *,
        -- held-out control rows and do-not-disturb rows are not contacted: no cost
        sum(case when assignment = 'treatment' then offer_cost else 0 end) over (
            order by action_rank rows between unbounded preceding and current row
        ) as cumulative_cost
    from ranked
    where
        expected_value > 0
        or (value_basis = 'expected_orders' and expected_orders_saved > 0)
        -- listed, not contacted: today's rule would contact them, the model says no
        or (is_do_not_disturb and assumed_expected_value > 0)

),

final as (

    select
        md5(concat(customer_id, '|', cast(as_of_date as {{ dbt.type_string() }}))) as action_id,
        action_rank,
        customer_id,
        as_of_date,
        cast(churn_probability as double) as churn_probability,
        risk_tier,
        cast(score_source as {{ dbt.type_string() }}) as score_source,
        cast(clv as double) as clv,
        cast(value_basis as {{ dbt.type_string() }}) as value_basis,
        cast(customer_value as double) as customer_value,
        cast(expected_orders as double) as expected_orders,
        cast(case when value_basis = 'expected_orders_x_value_per_order' then value_per_order end as double)
            as value_per_order,
        cast(expected_value as double) as expected_value,
        offer_type,
        cast(offer_cost as double) as offer_cost,
        -- null on do-not-disturb rows: never contacted, and listed after the budget ran out
        cast(case when not is_do_not_disturb then cumulative_cost end as double) as cumulative_cost,
        reason,
        reason_family,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(assignment as {{ dbt.type_string() }}) as assignment,  -- noqa: RF04
        cast(uplift_source as {{ dbt.type_string() }}) as uplift_source,
        cast(uplift as double) as estimated_uplift
    from budgeted
    where cumulative_cost <= {{ var('retention_budget') }} or is_do_not_disturb

)

select * from final
