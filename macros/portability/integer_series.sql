{#- Rows 0 .. n-1 in a column `n`, without engine-specific generators. -#}
{% macro integer_series(count) -%}
    {%- for i in range(count) %}
    select {{ i }} as n{% if not loop.last %} union all{% endif %}
    {%- endfor %}
{%- endmacro %}
