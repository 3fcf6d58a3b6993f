{#-
    A 64-bit hash of a list of expressions, for grouping by a number instead of
    long strings: DuckDB's hash() (UBIGINT), Spark's xxhash64() (BIGINT), both
    over the expressions directly, without building a string of them. The
    values differ between engines, so a hash64 is only ever compared with
    another one made in the same query, never stored. Collisions are possible
    (about one pair in 10^19), and Spark's xxhash64 skips nulls, so (a, null)
    and (null, a) hash alike there: callers use it only to pick candidates
    that are then compared on the real columns.
-#}
{% macro hash64(expressions) -%}
    {{ return(adapter.dispatch('hash64', 'retention')(expressions)) }}
{%- endmacro %}

{% macro default__hash64(expressions) -%}
    hash({{ expressions | join(', ') }})
{%- endmacro %}

{% macro spark__hash64(expressions) -%}
    xxhash64({{ expressions | join(', ') }})
{%- endmacro %}
