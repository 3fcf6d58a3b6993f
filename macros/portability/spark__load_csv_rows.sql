{#-
    Seeds on dbt-spark (session method), loaded so that Spark holds exactly what
    DuckDB's seed loader holds. dbt-spark 1.11's own spark__load_csv_rows
      - binds an empty CSV cell as the text 'None' (the session cursor formats
        bindings as '{value}'), so null strings arrive as 'None';
      - does not escape quotes or backslashes in text;
      - infers the column type once per cell, and a numeric column's inference
        scans the whole column: quadratic, minutes for the 9k-row orders seed.
    This version takes each column's type once, writes literals itself (null as
    null, text escaped for Spark's parser) and casts once per column.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set names = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do names.append('c' ~ loop.index0) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }}
            select
            {%- for col_name in agate_table.column_names %}
                cast({{ names[loop.index0] }} as {{ types[loop.index0] }}){% if not loop.last %},{% endif %}
            {%- endfor %}
            from values
            {%- for row in chunk %}
                ({%- for value in row -%}
                    {{ retention.spark_seed_literal(value) }}{% if not loop.last %}, {% endif %}
                {%- endfor -%}){% if not loop.last %},{% endif %}
            {%- endfor %}
            as seed_rows({{ names | join(', ') }})
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{#- A CSV cell as a Spark SQL literal: null, or text (numbers keep their CSV spelling). -#}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value.strftime is defined -%}
        '{{ value.isoformat(' ') }}'
    {%- else -%}
        '{{ (value | string).replace('\\', '\\\\').replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
