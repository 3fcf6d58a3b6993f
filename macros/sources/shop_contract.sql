{#-
    The input contract (ARCHITECTURE.md, "Input contract"): the columns each
    raw table may have, in order, and which of them are required. Staging
    selects exactly these; optional columns missing from the input become null,
    extra columns are ignored.
-#}
{% macro shop_contract() -%}
    {{ return({
        'orders': {
            'columns': ['order_id', 'customer_id', 'ordered_at', 'order_total',
                        'status', 'discount_amount', 'coupon_code'],
            'required': ['order_id', 'customer_id', 'ordered_at', 'order_total'],
        },
        'customers': {
            'columns': ['customer_id', 'signup_at', 'country', 'acquisition_channel', 'email'],
            'required': ['customer_id'],
            'pii': ['email'],
        },
        'order_items': {
            'columns': ['order_id', 'product_id', 'quantity', 'unit_price'],
            'required': ['order_id', 'product_id', 'quantity', 'unit_price'],
        },
        'products': {
            'columns': ['product_id', 'category', 'brand', 'price'],
            'required': ['product_id', 'category'],
        },
        'events': {
            'columns': ['event_id', 'customer_id', 'session_id', 'event_at', 'event_type', 'product_id'],
            'required': ['customer_id', 'event_at', 'event_type'],
        },
    }) }}
{%- endmacro %}

{#- Which raw tables this build reads; orders is always on. -#}
{% macro enabled_shop_tables() -%}
    {%- set tables = ['orders'] -%}
    {%- for table in ['customers', 'order_items', 'products', 'events'] -%}
        {%- if var('enable_' ~ table) -%}{%- do tables.append(table) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{#- Demo mode: raw data comes from the seeds committed in seeds/demo. -#}
{% macro using_demo_seeds() -%}
    {{ return(var('raw_path', none) is none and var('raw_schema', none) is none) }}
{%- endmacro %}

{#-
    The relation a staging base model reads. In demo mode we also ref the seed,
    so `dbt build` loads the seed before the model that reads it; the returned
    relation is the same table either way.
-#}
{% macro raw_source(table) -%}
    {%- if retention.using_demo_seeds() -%}
        {%- do ref('raw_' ~ table) -%}
    {%- endif -%}
    {{ return(source('shop', table)) }}
{%- endmacro %}

{#-
    The column names a base model outputs: the contract's, with PII columns
    replaced by their pseudonymised `<name>_hash`.
-#}
{% macro contract_output_columns(table) -%}
    {%- set contract = retention.shop_contract()[table] -%}
    {%- set columns = [] -%}
    {%- for column in contract['columns'] -%}
        {%- do columns.append(column ~ '_hash' if column in contract.get('pii', []) else column) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#-
    Select the contract's columns from a raw relation, every one cast to text
    (typing happens in the validated model, where failures become quarantine
    reasons), with missing optional columns as null. PII columns are
    pseudonymised here, the first place raw data is read, so no model holds
    the raw value.
-#}
{% macro select_contract_columns(relation, table) -%}
    {%- set contract = retention.shop_contract()[table] -%}
    {%- if execute -%}
        {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {#- No columns means the relation does not exist yet (e.g. compiling for lint):
            select the contract and let the database say the table is missing. -#}
        {%- if present | length == 0 -%}{%- set present = contract['columns'] -%}{%- endif -%}
        {%- set missing = contract['required'] | reject('in', present) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                "Raw table '" ~ table ~ "' (" ~ relation ~ ") lacks required column(s) "
                ~ missing | join(', ') ~ ". Found: " ~ present | join(', ')
                ~ ". Rename them in your export or see README, 'Bring your own data'.") }}
        {%- endif -%}
    {%- else -%}
        {%- set present = contract['columns'] -%}
    {%- endif -%}
    {%- set output_names = retention.contract_output_columns(table) -%}
    {%- for column in contract['columns'] %}
        {% if column not in present -%}
        cast(null as {{ dbt.type_string() }})
        {%- elif column in contract.get('pii', []) -%}
        {{ retention.pseudonymise('cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')') }}
        {%- else -%}
        cast({{ column }} as {{ dbt.type_string() }})
        {%- endif %} as {{ output_names[loop.index0] }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
