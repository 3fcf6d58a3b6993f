{#-
    The training and scoring spine: one row per eligible customer x cutoff,
    with point-in-time features and the churn label.
      - Features use only data before the cutoff (int_snapshots_featurized).
      - Eligibility and the label come from int_snapshots_labelled, the one
        home of both (churn_definition): purchase churn = a customer with a
        completed order before the cutoff and none in [cutoff, cutoff +
        horizon); activity churn = active in the last active_lookback_days,
        and no order or event in the horizon. The label is null until that
        window has fully passed by as_of_date.
      - The row at snapshot_number 0 (cutoff = as_of_date) is the one scored.
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
        cutoffs.label_window_end_date,
        labels.is_churned,
        labels.orders_in_horizon,
        labels.revenue_in_horizon
    from features
    inner join labels
        on features.customer_id = labels.customer_id
            and features.cutoff_date = labels.cutoff_date
    inner join cutoffs
        on features.cutoff_date = cutoffs.cutoff_date

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
        eligible.is_churned,
        eligible.orders_in_horizon,
        eligible.revenue_in_horizon,

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
    {%- if var('enable_customers') %}
    left join customers
        on eligible.customer_id = customers.customer_id
    {%- endif %}

)

select * from final
