{#-
    md5 over a list of columns, nulls made explicit so (a, null) and (null, a)
    differ. md5 gives the same hex string on DuckDB and Spark; `hash()` does not.
    (dbt_utils.generate_surrogate_key does the same, but the dbt package hub is
    not reachable from our build machines, so the project carries no packages.)
-#}
{% macro row_hash(columns) -%}
    md5(concat(
        {%- for column in columns %}
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '<null>')
        {%- if not loop.last %}, '|',{% endif %}
        {%- endfor %}
    ))
{%- endmacro %}
