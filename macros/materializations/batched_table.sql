{#-
    A table built one slice at a time, for models whose one aggregate is too big
    for memory in one statement (docs/scale.md).

    config(materialized='batched_table', batches={
        'values_from': 'int_cutoffs_generated', # a parent model the model reads
        'column': 'cutoff_date',                # a date column of that parent
        'per_batch': 1,                         # values per statement
    })

    Each statement runs the model with `values_from` narrowed to a few values of
    `column`: every reference to that parent in the compiled SQL reads
    `(select * from <parent> where <column> in (<literal dates>))` instead. So the
    model must be one whose rows for a value depend only on that value's rows of
    the parent, as a per-cutoff feature table's do (every row joins one cutoff).
    The first batch creates the table and each other batch inserts into it. The
    build goes to an intermediate table that replaces the published one only after
    every batch has succeeded, so a failed batch leaves it as it was.
    DuckDB only: elsewhere use `table`.
-#}
{% materialization batched_table, adapter='duckdb' %}

    {%- set batches = config.require('batches') -%}
    {%- set column = batches['column'] -%}
    {%- set per_batch = batches.get('per_batch', 1) | int -%}
    {%- if per_batch < 1 -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": batches.per_batch must be at least 1, got " ~ per_batch) }}
    {%- endif -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(
        target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {%- set parent = ref(batches['values_from']) | string -%}
    {%- if parent not in compiled_code -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": batches.values_from is " ~ batches['values_from']
            ~ ", which the model's SQL does not read") }}
    {%- endif -%}
    {%- set values_query -%}
        select distinct {{ column }} from {{ parent }} order by 1
    {%- endset -%}
    {%- set values = run_query(values_query).columns[0].values() | list -%}
    {%- if none in values -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": " ~ batches['values_from'] ~ "." ~ column
            ~ " has nulls, which no batch would read") }}
    {%- endif -%}
    {%- set slices = values | batch(per_batch) | list -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if slices | length == 0 -%}
        {#- no values (an empty build): the model's own rows, which are none -#}
        {% call statement('main') -%}
            {{ create_table_as(False, intermediate_relation, compiled_code) }}
        {%- endcall %}
    {%- endif -%}
    {%- for slice in slices -%}
        {%- set literals = [] -%}
        {%- for value in slice -%}
            {%- do literals.append("cast('" ~ value ~ "' as date)") -%}
        {%- endfor -%}
        {%- set slice_of_parent -%}
            (select * from {{ parent }} where {{ column }} in ({{ literals | join(', ') }}))
        {%- endset -%}
        {%- set batch_sql = compiled_code.replace(parent, slice_of_parent) -%}
        {{ log(model.name ~ ": batch " ~ loop.index ~ " of " ~ slices | length
            ~ " (" ~ column ~ " " ~ slice | join(', ') ~ ")", info=True) }}
        {%- if loop.first -%}
            {% call statement('main') -%}
                {{ create_table_as(False, intermediate_relation, batch_sql) }}
            {%- endcall %}
        {%- else -%}
            {% call statement('batch_' ~ loop.index) -%}
                insert into {{ intermediate_relation }} {{ batch_sql }}
            {%- endcall %}
        {%- endif -%}
    {%- endfor -%}

    {%- if existing_relation is not none -%}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {%- endif -%}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do apply_grants(target_relation, config.get('grants'),
        should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) %}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
