{#-
    on-run-start: when `raw_path` names a folder of files, expose each enabled
    table as a view in the `raw` schema, so sources read files exactly as they
    read seeds or warehouse tables. A table may be `<name>.parquet`,
    `<name>/*.parquet`, `<name>.csv` or `<name>/*.csv`. CSVs are read as text so
    that bad values reach staging (and quarantine) instead of failing the load.
-#}
{% macro register_raw_files() -%}
    {#- Returns the DDL for the hook to run, so dbt commits it with the hook. -#}
    {%- if execute and var('raw_path', none) is not none -%}
        {{ return(adapter.dispatch('register_raw_files', 'retention')(var('raw_path'), retention.enabled_shop_tables())) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__register_raw_files(raw_path, tables) -%}
    {{ exceptions.raise_compiler_error(
        "raw_path is only supported on DuckDB; on " ~ target.type
        ~ " load the files into a schema and set the raw_schema var.") }}
{%- endmacro %}

{% macro duckdb__register_raw_files(raw_path, tables) -%}
    {#- A relative raw_path is taken from the project root, not the working directory. -#}
    {%- set folder = raw_path.rstrip('/') if raw_path.startswith('/')
        else env_var('RETENTION_HOME', '.') ~ '/' ~ raw_path.rstrip('/') -%}
    {%- set schema = var('raw_schema', none) or 'raw' -%}
    {%- set statements = ['create schema if not exists ' ~ schema] -%}
    {%- for table in tables -%}
        {%- set candidates = [
            (folder ~ '/' ~ table ~ '.parquet', 'parquet'),
            (folder ~ '/' ~ table ~ '/*.parquet', 'parquet'),
            (folder ~ '/' ~ table ~ '.csv', 'csv'),
            (folder ~ '/' ~ table ~ '/*.csv', 'csv'),
        ] -%}
        {%- set found = namespace(pattern=none, format=none) -%}
        {%- for pattern, format in candidates if found.pattern is none -%}
            {%- set matches = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
            {%- if matches > 0 -%}
                {%- set found.pattern = pattern -%}
                {%- set found.format = format -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if found.pattern is none -%}
            {%- set hint = "it is required" if table == 'orders'
                else "add it, or switch it off with --vars '{enable_" ~ table ~ ": false}'" -%}
            {{ exceptions.raise_compiler_error(
                "No '" ~ table ~ "' data in raw_path " ~ folder ~ " (looked for " ~ table ~ ".parquet, "
                ~ table ~ "/*.parquet, " ~ table ~ ".csv, " ~ table ~ "/*.csv): " ~ hint ~ ".") }}
        {%- endif -%}
        {%- if found.format == 'parquet' -%}
            {%- set reader = "read_parquet('" ~ found.pattern ~ "', union_by_name = true)" -%}
        {%- else -%}
            {%- set reader = "read_csv('" ~ found.pattern ~ "', header = true, all_varchar = true, union_by_name = true)" -%}
        {%- endif -%}
        {%- set existing = adapter.get_relation(database=target.database, schema=schema, identifier=table) -%}
        {%- if existing is not none -%}
            {%- do statements.append('drop ' ~ existing.type ~ ' if exists ' ~ schema ~ '.' ~ table) -%}
        {%- endif -%}
        {%- do statements.append('create view ' ~ schema ~ '.' ~ table ~ ' as select * from ' ~ reader) -%}
        {{ log("raw." ~ table ~ " <- " ~ found.pattern, info=true) }}
    {%- endfor -%}
    {%- do statements.append('commit') -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
