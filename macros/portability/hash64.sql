{#-
    A 64-bit hash of one expression, for grouping by a number instead of a long
    string: DuckDB's hash() (UBIGINT), Spark's xxhash64() (BIGINT). The values
    differ between engines, so a hash64 is only ever compared with another one
    made in the same query, never stored. Collisions are possible (about one
    pair in 10^19); callers use it only to pick candidates that are then
    compared on the real columns.
-#}
{% macro hash64(expression) -%}
    {{ return(adapter.dispatch('hash64', 'retention')(expression)) }}
{%- endmacro %}

{% macro default__hash64(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro spark__hash64(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}
