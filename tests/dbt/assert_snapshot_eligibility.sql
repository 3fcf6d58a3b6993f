-- Every snapshot row is eligible under the configured churn definition.
select *
from {{ ref('fct_customer_snapshots') }}
where
    {%- if var('churn_definition') == 'purchase' %}
        not (orders_count > 0)
    {%- else %}
    not (days_since_last_activity <= {{ var('active_lookback_days') }})
{%- endif %}
    or days_since_last_activity < 1
