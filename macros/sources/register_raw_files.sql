{#-
    on-run-start: when `raw_path` names a folder of files, expose each enabled
    table as a view in the `raw` schema, so sources read files exactly as they
    read seeds or warehouse tables. A table may be `<name>.parquet`,
    `<name>/*.parquet`, `<name>.csv` or `<name>/*.csv`. CSVs are read as text so
    that bad values reach staging (and quarantine) instead of failing the load.
    Empty files (0 bytes) hold no rows: a table whose files are all empty
    becomes an empty view with the contract's columns, not a read error.
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

{#- The folder raw_path names; a relative raw_path is taken from the project root, not the working directory. -#}
{% macro raw_folder() -%}
    {%- set raw_path = var('raw_path') -%}
    {{ return(raw_path.rstrip('/') if raw_path.startswith('/')
        else env_var('RETENTION_HOME', '.') ~ '/' ~ raw_path.rstrip('/')) }}
{%- endmacro %}

{#-
    DuckDB: the file pattern a raw table is read from and the SQL relation that
    reads it, as {'pattern': ..., 'reader': ...}. Stops with what to fix when
    the folder or the table's files are missing.
-#}
{% macro raw_file_reader(folder, table) -%}
    {%- if run_query("select count(*) from glob('" ~ folder ~ "/**')").columns[0].values()[0] == 0 -%}
        {{ exceptions.raise_compiler_error(
            "raw_path " ~ folder ~ " does not exist or is empty. Set raw_path to the folder that holds"
            ~ " orders.csv (or orders.parquet, orders/*.parquet, orders/*.csv); a relative path is"
            ~ " taken from the project root " ~ env_var('RETENTION_HOME', '.') ~ ".") }}
    {%- endif -%}
    {%- set candidates = [
        (folder ~ '/' ~ table ~ '.parquet', 'parquet'),
        (folder ~ '/' ~ table ~ '/*.parquet', 'parquet'),
        (folder ~ '/' ~ table ~ '.csv', 'csv'),
        (folder ~ '/' ~ table ~ '/*.csv', 'csv'),
    ] -%}
    {%- set found = namespace(pattern=none, format=none, files=0, non_empty=0) -%}
    {%- for pattern, format in candidates if found.pattern is none -%}
        {#- read_blob reads only the file sizes here: content is loaded only when selected. -#}
        {%- set files = run_query(
            "select count(*) as files, count(case when size > 0 then 1 end) as non_empty"
            ~ " from read_blob('" ~ pattern ~ "')") -%}
        {%- if files.columns[0].values()[0] > 0 -%}
            {%- set found.pattern = pattern -%}
            {%- set found.format = format -%}
            {%- set found.files = files.columns[0].values()[0] -%}
            {%- set found.non_empty = files.columns[1].values()[0] -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if found.pattern is none -%}
        {%- set hint = "it is required: put the orders export there, or point raw_path at the folder that has it"
            if table == 'orders'
            else "add it, or switch it off with --vars '{enable_" ~ table ~ ": false}'" -%}
        {{ exceptions.raise_compiler_error(
            "No '" ~ table ~ "' data in raw_path " ~ folder ~ " (looked for " ~ table ~ ".parquet, "
            ~ table ~ "/*.parquet, " ~ table ~ ".csv, " ~ table ~ "/*.csv): " ~ hint ~ ". Nothing was built.") }}
    {%- endif -%}
    {%- if found.non_empty == 0 -%}
        {#- Only empty files: no rows, and no header to read columns from. -#}
        {%- set columns = [] -%}
        {%- for column in retention.shop_contract()[table]['columns'] -%}
            {%- do columns.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column) -%}
        {%- endfor -%}
        {{ log("raw." ~ table ~ ": every file matching " ~ found.pattern ~ " is empty (0 bytes); the table has no rows", info=true) }}
        {{ return({'pattern': found.pattern,
                   'reader': '(select ' ~ columns | join(', ') ~ ') as no_rows where 1 = 0'}) }}
    {%- endif -%}
    {%- set source = "'" ~ found.pattern ~ "'" -%}
    {%- if found.non_empty < found.files -%}
        {#- Some part files empty, some not: read the others (an empty Parquet file is unreadable). -#}
        {%- set non_empty_files = run_query(
            "select filename from read_blob('" ~ found.pattern ~ "') where size > 0 order by filename"
        ).columns[0].values() -%}
        {%- set source = "['" ~ non_empty_files | join("', '") ~ "']" -%}
    {%- endif -%}
    {%- if found.format == 'parquet' -%}
        {{ return({'pattern': found.pattern,
                   'reader': "read_parquet(" ~ source ~ ", union_by_name = true)"}) }}
    {%- endif -%}
    {{ return({'pattern': found.pattern,
               'reader': "read_csv(" ~ source ~ ", header = true, all_varchar = true, union_by_name = true)"}) }}
{%- endmacro %}

{% macro duckdb__register_raw_files(raw_path, tables) -%}
    {%- set folder = retention.raw_folder() -%}
    {%- set schema = var('raw_schema', none) or 'raw' -%}
    {%- set statements = ['create schema if not exists ' ~ schema] -%}
    {%- for table in tables -%}
        {%- set file = retention.raw_file_reader(folder, table) -%}
        {%- set existing = adapter.get_relation(database=target.database, schema=schema, identifier=table) -%}
        {%- if existing is not none -%}
            {%- do statements.append('drop ' ~ existing.type ~ ' if exists ' ~ schema ~ '.' ~ table) -%}
        {%- endif -%}
        {%- do statements.append('create view ' ~ schema ~ '.' ~ table ~ ' as select * from ' ~ file['reader']) -%}
        {{ log("raw." ~ table ~ " <- " ~ file['pattern'], info=true) }}
    {%- endfor -%}
    {%- do statements.append('commit') -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
