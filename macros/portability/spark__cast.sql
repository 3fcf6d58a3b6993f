{#-
    dbt's `cast` on Spark, reading DuckDB's name for text. Contracts in the model
    YAML declare `data_type: varchar`, and dbt checks a contract by running
    `cast(null as <data_type>)` through this macro (unit-test fixtures too).
    Spark 4 rejects a bare VARCHAR (it needs a length), so text types become
    `string`, Spark's text type; every other type passes through unchanged.
-#}
{% macro spark__cast(field, type) -%}
    {%- set text_types = ['varchar', 'text', 'character varying', 'string'] -%}
    cast({{ field }} as {{ dbt.type_string() if type.strip().lower() in text_types else type }})
{%- endmacro %}
