{#-
    Privacy (docs/architecture.md, "Privacy"): no raw PII reaches a mart. Reads
    the columns the marts really have in the warehouse, so it also covers the
    columns fct_customer_snapshots passes through without declaring them (the
    contracted marts are also checked from the manifest, in
    dbt_score_rules/marts.py, run by dbt-score, with the same word list: the
    pii_column_words var). A column is PII when one of those words is a whole
    "_"-separated word of its name. Returns one row per offending column. Runs
    after the two marts that read the customers source.
-#}
-- depends_on: {{ ref('fct_customer_snapshots') }}
-- depends_on: {{ ref('dim_customers') }}
{% set pii_name = '(^|_)(' ~ var('pii_column_words') | join('|') ~ ')(_|$)' -%}
{%- set offending = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() -%}
        {%- set path = node.original_file_path -%}
        {%- if node.resource_type == 'model' and path.startswith('models/marts/') and '/publish/' not in path -%}
            {%- set relation = adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias
            ) -%}
            {%- if relation is not none -%}
                {%- for column in adapter.get_columns_in_relation(relation) -%}
                    {%- if modules.re.search(pii_name, column.name | lower) -%}
                        {%- do offending.append((node.name, column.name | lower)) -%}
                    {%- endif -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}

with

offending_columns as (

    {% for table_name, column_name in offending %}
        select
            '{{ table_name }}' as table_name,
            '{{ column_name }}' as column_name
        {% if not loop.last %}union all{% endif %}
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as table_name,
            cast(null as {{ dbt.type_string() }}) as column_name
        where 1 = 0
    {% endfor %}

)

select * from offending_columns
