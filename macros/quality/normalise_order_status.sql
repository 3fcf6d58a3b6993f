{#-
    Map the many spellings of an order status onto four values. A missing
    status (orders-only exports such as CDNOW have none) means completed; a
    status outside the map is returned as null so staging quarantines the row
    with reason `unknown_status` instead of guessing.
-#}
{% macro order_status_map() -%}
    {{ return({
        'completed': ['completed', 'complete', 'paid', 'shipped', 'delivered', 'fulfilled', 'closed'],
        'cancelled': ['cancelled', 'canceled', 'void', 'voided'],
        'returned': ['returned', 'refunded', 'return', 'refund'],
        'pending': ['pending', 'processing', 'open', 'on_hold', 'on hold'],
    }) }}
{%- endmacro %}

{% macro normalise_order_status(expression) -%}
    case
        when {{ expression }} is null or trim({{ expression }}) = '' then 'completed'
        {%- for status, spellings in retention.order_status_map().items() %}
        when lower(trim({{ expression }})) in ('{{ spellings | join("', '") }}') then '{{ status }}'
        {%- endfor %}
    end
{%- endmacro %}
