{#-
    The training and scoring spine: one row per eligible customer x cutoff,
    with point-in-time features and the churn label.
      - Features use only data before the cutoff (int_snapshots_featurized).
      - The label uses [cutoff, cutoff + horizon) and is null until that
        window has fully passed by as_of_date.
      - The row at snapshot_number 0 (cutoff = as_of_date) is the one scored.
    Eligibility (churn_definition):
      - purchase: at least one completed order before the cutoff; churned =
        no completed order in the horizon;
      - activity: any order or event in [cutoff - active_lookback_days,
        cutoff); churned = no order or event in the horizon.
    Numeric features are cast to double, so every engine hands ML the same
    types. The feature columns depend on the enabled sources and the window
    vars, which is why this mart has no enforced contract.
-#}
{%- set passthrough = ['customer_id', 'cutoff_date', 'has_purchased'] -%}
{%- set features = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(ref('int_snapshots_featurized')) -%}
        {%- if column.name | lower not in passthrough -%}{%- do features.append(column.name | lower) -%}{%- endif -%}
    {%- endfor -%}
{%- endif -%}

with

features as (

    select * from {{ ref('int_snapshots_featurized') }}

),

labels as (

    select * from {{ ref('int_snapshots_labelled') }}

),

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

{% if var('enable_customers') %}
    customers as (

        select * from {{ ref('stg_shop__customers') }}

    ),
{% endif %}

eligible as (

    select
        features.*,
        cutoffs.as_of_date,
        cutoffs.snapshot_number,
        cutoffs.is_scoring_cutoff,
        cutoffs.is_label_mature,
        cutoffs.label_window_end_date
    from features
    inner join cutoffs
        on features.cutoff_date = cutoffs.cutoff_date
    {%- if var('churn_definition') == 'purchase' %}
        where features.orders_count > 0
    {%- else %}
    where features.days_since_last_activity <= {{ var('active_lookback_days') }}
    {%- endif %}

),

final as (

    select
        ---------- keys
        md5(concat(eligible.customer_id, '|', cast(eligible.cutoff_date as {{ dbt.type_string() }})))
            as snapshot_id,
        eligible.customer_id,
        eligible.cutoff_date,
        eligible.as_of_date,
        eligible.snapshot_number,
        eligible.is_scoring_cutoff,

        ---------- label
        eligible.label_window_end_date,
        eligible.is_label_mature,
        case
            when not eligible.is_label_mature then null
            {%- if var('churn_definition') == 'purchase' %}
                else coalesce(labels.orders_in_horizon, 0) = 0
            {%- else %}
            else coalesce(labels.active_days_in_horizon, 0) = 0
            {%- endif %}
        end as is_churned,
        case when eligible.is_label_mature then cast(coalesce(labels.orders_in_horizon, 0) as {{ dbt.type_int() }}) end
            as orders_in_horizon,
        -- no activity in the window is 0 revenue; activity with an order without an amount is unknown
        case
            when eligible.is_label_mature and labels.customer_id is null then cast(0 as double)
            when eligible.is_label_mature then cast(labels.revenue_in_horizon as double)
        end as revenue_in_horizon,

        ---------- static attributes
        {%- if var('enable_customers') %}
            customers.acquisition_channel,
            customers.country_code,
            cast(case
                when customers.signup_date < eligible.cutoff_date
                    then {{ dbt.datediff('customers.signup_date', 'eligible.cutoff_date', 'day') }}
            end as double) as days_since_signup,
        {%- endif %}

        ---------- features (point in time)
        {%- for feature in features %}
        cast(eligible.{{ feature }} as double) as {{ feature }},
        {%- endfor %}
        eligible.has_purchased

    from eligible
    left join labels
        on eligible.customer_id = labels.customer_id
            and eligible.cutoff_date = labels.cutoff_date
    {%- if var('enable_customers') %}
        left join customers
            on eligible.customer_id = customers.customer_id
    {%- endif %}

)

select * from final
