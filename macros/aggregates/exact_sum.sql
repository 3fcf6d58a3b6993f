{#-
    Sums and means of floating-point values that do not depend on row order.
    A double sum does: DuckDB (and Spark) combine partial sums of parallel
    workers in no fixed order, so two builds of the same data differed in the
    last bit, and a rerun was not idempotent. Summing as decimal(38, 12) is
    exact; the result goes back to double (as the marts declare it; Spark has
    double too). Precision: 1e-12 per value.
-#}
{% macro exact_sum(expression) -%}
    cast(sum(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}

{% macro exact_avg(expression) -%}
    cast(avg(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}

{#-
    A sum that is null when any of its values is null: the total of amounts
    some of which are unknown is unknown, not the sum of the known ones (README,
    "Orders without amounts"). Pass a case expression that is 0 (not null) for
    rows that do not count, e.g. sum_if_known('case when is_completed then
    order_total else 0 end').
-#}
{% macro sum_if_known(expression) -%}
    case when count(*) = count({{ expression }}) then sum({{ expression }}) end
{%- endmacro %}
