{#-
    Small-group suppression (docs/architecture.md, "Privacy"): a row about a
    group of customers (a segment, a cohort, a segment x period) smaller than
    min_group_size shows no count or metric, so nobody can be singled out.
    The threshold's one default is in dbt_project.yml.
-#}
{% macro min_group_size() -%}
    {{ return(var('min_group_size')) }}
{%- endmacro %}

{#- True when a group of `customers` must be suppressed. -#}
{% macro is_small_group(customers) -%}
    ({{ customers }} < {{ retention.min_group_size() }})
{%- endmacro %}

{#- `value`, or null when it describes fewer than min_group_size customers. -#}
{% macro unless_small_group(customers, value) -%}
    case when {{ customers }} >= {{ retention.min_group_size() }} then {{ value }} end
{%- endmacro %}
