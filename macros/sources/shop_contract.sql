{#-
    The input contract (docs/architecture.md, "Input contract"): the columns each
    raw table may have, in order, and which of them are required. Staging
    selects exactly these; optional columns missing from the input become null,
    extra columns are ignored.
      - orders.order_total is optional: a frequency-only export (no amounts, or
        an empty column) gives clean orders with a null amount (README, "Orders
        without amounts").
      - order_items.line_id is optional: with it, a line is keyed by
        (order_id, line_id); without it, identical lines of one order are
        separate lines (README, "Order lines and re-sent orders").
      - contacts (enable_contacts) records a retention campaign: one row per
        customer it selected, `treatment` (contacted with offer_type) or
        `control` (held out at random, not contacted). offer_cost and channel
        are optional. The demo seed (eight generated campaigns) is read when
        enable_contacts is true, as `make demo` sets it.
-#}
{% macro shop_contract() -%}
    {{ return({
        'orders': {
            'columns': ['order_id', 'customer_id', 'ordered_at', 'order_total',
                        'status', 'discount_amount', 'coupon_code'],
            'required': ['order_id', 'customer_id', 'ordered_at'],
        },
        'customers': {
            'columns': ['customer_id', 'signup_at', 'country', 'acquisition_channel', 'email'],
            'required': ['customer_id'],
            'pii': ['email'],
        },
        'order_items': {
            'columns': ['order_id', 'product_id', 'quantity', 'unit_price', 'line_id'],
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
        'contacts': {
            'columns': ['contact_id', 'customer_id', 'campaign_id', 'contacted_at', 'assignment',
                        'offer_type', 'offer_cost', 'channel'],
            'required': ['contact_id', 'customer_id', 'campaign_id', 'contacted_at', 'assignment', 'offer_type'],
        },
    }) }}
{%- endmacro %}

{#- Which raw tables this build reads; orders is always on. -#}
{% macro enabled_shop_tables() -%}
    {%- set tables = ['orders'] -%}
    {%- for table in ['customers', 'order_items', 'products', 'events', 'contacts'] -%}
        {%- if var('enable_' ~ table) -%}{%- do tables.append(table) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{#- Demo mode: raw data comes from the seeds committed in seeds/demo. -#}
{% macro using_demo_seeds() -%}
    {{ return(var('raw_path', none) is none and var('raw_schema', none) is none) }}
{%- endmacro %}

{#-
    The relation a staging base model reads. In demo mode we also ref the seed
    (seeds/demo has one for every table of the contract, `raw_<table>`), so
    `dbt build` loads the seed before the model that reads it; the returned
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

{#-
    Where each raw row was loaded from, as staging columns: `source_file` and
    `source_row` (its order in the file) break ties between versions of a key
    (README, "Duplicates and re-sends"); `source_line` and `malformed_reason`
    are set on malformed CSV lines only. The raw views over raw_path files have
    them (_file, _row, _line, _malformed); a raw_schema table may bring _file
    and _row from its loader; seeds have none (null).
-#}
{% macro select_load_position(relation) -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- endif -%}
    {%- set columns = [
        ('_file', dbt.type_string(), 'source_file'),
        ('_row', dbt.type_bigint(), 'source_row'),
        ('_line', dbt.type_bigint(), 'source_line'),
        ('_malformed', dbt.type_string(), 'malformed_reason'),
    ] -%}
    {%- for raw_name, data_type, name in columns %}
        {% if raw_name in present -%}
        cast({{ raw_name }} as {{ data_type }})
        {%- else -%}
        cast(null as {{ data_type }})
        {%- endif %} as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#-
    raw_row_hash of a base model: md5 of the contract columns; a malformed line
    (whose columns are all null) is identified by its file and line instead.
-#}
{% macro raw_row_hash(table) -%}
    case
        when malformed_reason is not null
            then md5(concat('malformed|', coalesce(source_file, ''), '|', cast(source_line as {{ dbt.type_string() }})))
        else {{ retention.row_hash(retention.contract_output_columns(table)) }}
    end
{%- endmacro %}
