{#-
    Layers get plain schema names (raw, staging, intermediate, ml, marts) so
    analysts query `marts.dim_customers`. Models without a custom schema go to
    the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
