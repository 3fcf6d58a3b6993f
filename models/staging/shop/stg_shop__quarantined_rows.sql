{#-
    Every raw row that did not reach staging, with the reason. Nothing is
    dropped silently: raw rows = staging rows + rows here, per source (tested).
    The raw row itself stays in the raw layer; `raw_row_hash` finds it (taken
    out of `raw_row_id`, which holds it: events staging does not store it), and
    for files under raw_path `source_file` and `source_row` say where it is
    (a malformed CSV line: `source_line`, the line in the file, and
    `malformed_reason`, what DuckDB could not read).
-#}
{%- set keys = {
    'orders': 'order_id',
    'customers': 'customer_id',
    'order_items': "concat(coalesce(order_id, '<null>'), '|', coalesce(product_id, '<null>'))",
    'products': 'product_id',
    'events': 'coalesce(event_id, customer_id)',
    'contacts': 'contact_id',
} -%}

with

{% for table in retention.enabled_shop_tables() %}
    {{ table }}_quarantined as (

        select
            '{{ table }}' as source_table,
            raw_row_id,
            {{ retention.raw_row_hash_of('raw_row_id', 'exact_copy_number') }} as raw_row_hash,
            {{ keys[table] }} as record_key,
            quarantine_reason,
            source_file,
            source_row,
            source_line,
            malformed_reason
        from {{ ref('base_shop__' ~ table ~ '_checked') }}
        where quarantine_reason is not null

    ),

{% endfor %}
unioned as (

    {% for table in retention.enabled_shop_tables() %}
        select * from {{ table }}_quarantined
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
