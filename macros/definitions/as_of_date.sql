{#-
    This build's scoring date, as a one-row query (column as_of_date) to use as
    an import CTE: `as_of as ({{ retention.build_as_of_date() }})`.
    int_cutoffs_generated decides it (the as_of_date var, or the day after the
    last order or event); every other model reads it here, never as
    max(as_of_date) of another table: a kept history (fct_churn_scores) may
    hold later dates from a build with a later as_of_date. One row even when
    there is no cutoff (as_of_date null), so a cross join never drops rows.
-#}
{% macro build_as_of_date() -%}
    select max(as_of_date) as as_of_date
    from {{ ref('int_cutoffs_generated') }}
{%- endmacro %}
