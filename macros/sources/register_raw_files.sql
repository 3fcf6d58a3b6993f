{#-
    on-run-start: when `raw_path` names a folder of files, expose each enabled
    table as a view in the `raw` schema, so sources read files exactly as they
    read seeds or warehouse tables. A table may be `<name>.parquet`,
    `<name>/*.parquet`, `<name>.csv` or `<name>/*.csv` (README, "Bring your own
    data").

    Fail closed: every file is read and checked BEFORE any DDL. A file that
    cannot be read as a whole (see csv_file_problems) raises a compiler error
    naming the file, the line and what to do, so no node runs, nothing is
    published and the previous raw views stay as they were. Individual
    malformed CSV lines are not a reason to stop: they are stored in
    `raw.<table>__malformed_lines` and reach staging as raw rows that are
    quarantined as `malformed_line`, so raw = clean + quarantined still counts
    them.

    CSVs are read with a fixed dialect (csv_* vars; no sniffing) and as text, so
    bad values reach staging (and quarantine) instead of failing the load. Each
    row carries its load position: `_file` (the path under raw_path) and `_row`
    (its order among the file's rows), the tie-break for duplicate keys.
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

{#- A SQL string literal. -#}
{% macro sql_string(text) -%}
    {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{#- The CSV dialect (vars csv_*; README, "Reading CSV"). Nothing is sniffed. -#}
{% macro csv_dialect() -%}
    {{ return({
        'delimiter': var('csv_delimiter', ','),
        'quote': var('csv_quote', '"'),
        'escape': var('csv_escape', '"'),
        'header': var('csv_header', true),
        'encoding': var('csv_encoding', 'utf-8'),
    }) }}
{%- endmacro %}

{#-
    read_csv options that return every physical line of a file as one text
    column, quotes and delimiters untouched: the independent count of a file's
    records. UTF-8 and Latin-1 files are scanned as Latin-1, which decodes any
    byte, so a line with invalid UTF-8 is still counted (quotes and newlines are
    the same bytes in both).
-#}
{% macro csv_line_scan_options() -%}
    {%- set encoding = retention.csv_dialect()['encoding'] -%}
    auto_detect = false, header = false, delim = e'\x1f\x1e\x1d', quote = '', escape = '',
    columns = {'line': 'VARCHAR'}, parallel = false, strict_mode = false,
    encoding = {{ retention.sql_string('latin-1' if encoding in ['utf-8', 'latin-1'] else encoding) }}
{%- endmacro %}

{#- read_csv options of the dialect for a file with these columns (all text). -#}
{% macro csv_read_options(columns) -%}
    {%- set dialect = retention.csv_dialect() -%}
    {%- set struct = [] -%}
    {%- for column in columns -%}
        {%- do struct.append(retention.sql_string(column) ~ ": 'VARCHAR'") -%}
    {%- endfor -%}
    auto_detect = false, header = {{ 'true' if dialect['header'] else 'false' }},
    delim = {{ retention.sql_string(dialect['delimiter']) }},
    quote = {{ retention.sql_string(dialect['quote']) }},
    escape = {{ retention.sql_string(dialect['escape']) }},
    encoding = {{ retention.sql_string(dialect['encoding']) }},
    columns = { {{- struct | join(', ') -}} }, parallel = false
{%- endmacro %}

{#-
    A filter true for every row that reads every column. DuckDB checks a
    value's encoding only when the column is read: without this, a line with
    invalid UTF-8 in a column the query does not select would come back as a
    row, and the same line would count as read or malformed depending on the
    query.
-#}
{% macro csv_every_column_read(columns) -%}
    {%- set quoted = [] -%}
    {%- for column in columns -%}{%- do quoted.append('"' ~ column.replace('"', '""') ~ '"') -%}{%- endfor -%}
    length(concat_ws('|', {{ quoted | join(', ') }})) >= 0
{%- endmacro %}

{#-
    DuckDB: the files of a raw table, as {'pattern', 'format', 'files'} where
    files are the non-empty ones, sorted by path (their load order), each
    {'path', 'name'} with name the path under the folder. Stops with what to
    fix when the folder or the table's files are missing.
-#}
{% macro raw_table_files(folder, table) -%}
    {%- if run_query("select count(*) from glob(" ~ retention.sql_string(folder ~ "/**") ~ ")").columns[0].values()[0] == 0 -%}
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
    {%- set found = namespace(pattern=none, format=none, files=[]) -%}
    {%- for pattern, format in candidates if found.pattern is none -%}
        {#- read_blob reads only the file sizes here: content is loaded only when selected. -#}
        {%- set listed = run_query(
            "select filename, size from read_blob(" ~ retention.sql_string(pattern) ~ ") order by filename") -%}
        {%- if listed.rows | length > 0 -%}
            {%- set found.pattern = pattern -%}
            {%- set found.format = format -%}
            {%- for row in listed.rows if row[1] > 0 -%}
                {%- do found.files.append({'path': row[0], 'name': row[0][folder | length + 1:]}) -%}
            {%- endfor -%}
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
    {{ return({'pattern': found.pattern, 'format': found.format, 'files': found.files}) }}
{%- endmacro %}

{#-
    The column names of each CSV file (lower case, trimmed, quotes removed),
    from its first line, read in one query for all files. Without a header
    (csv_header: false) the columns are csv_columns[table], else the contract's.
-#}
{% macro csv_file_columns(table, files) -%}
    {%- set dialect = retention.csv_dialect() -%}
    {%- set columns = {} -%}
    {%- if files | length == 0 -%}{{ return(columns) }}{%- endif -%}
    {%- if not dialect['header'] -%}
        {%- set names = var('csv_columns', {}).get(table) or retention.shop_contract()[table]['columns'] -%}
        {%- for file in files -%}{%- do columns.update({file['path']: names | list}) -%}{%- endfor -%}
        {{ return(columns) }}
    {%- endif -%}
    {%- set selects = [] -%}
    {%- for file in files -%}
        {%- do selects.append("select " ~ loop.index0 ~ " as file_index, line from (select line from read_csv("
            ~ retention.sql_string(file['path']) ~ ", " ~ retention.csv_line_scan_options() ~ ") limit 1)") -%}
    {%- endfor -%}
    {%- set first_lines = {} -%}
    {%- for row in run_query(selects | join(' union all ')).rows -%}
        {%- do first_lines.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- for file in files -%}
        {%- set line = (first_lines.get(loop.index0) or '') -%}
        {#- a UTF-8 byte order mark, as Latin-1 -#}
        {%- if line.startswith('\u00ef\u00bb\u00bf') -%}{%- set line = line[3:] -%}{%- endif -%}
        {%- set names = [] -%}
        {%- for cell in line.rstrip('\r').split(dialect['delimiter']) -%}
            {%- set name = cell.strip().strip(dialect['quote']).strip().lower() -%}
            {%- do names.append(name if name else 'unnamed_column_' ~ loop.index) -%}
        {%- endfor -%}
        {%- do columns.update({file['path']: names}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#-
    The SQL relation that reads a table's files: every readable row, with its
    load position (_file, _row). Malformed CSV lines are skipped here
    (ignore_errors); the hook stores them and the view adds them back.
-#}
{% macro raw_files_relation(table, files, format, columns) -%}
    {%- if files | length == 0 -%}
        {#- Only empty files: no rows, and no header to read columns from. -#}
        {%- set nulls = [] -%}
        {%- for column in retention.shop_contract()[table]['columns'] -%}
            {%- do nulls.append('cast(null as varchar) as ' ~ column) -%}
        {%- endfor -%}
        {{ return('(select ' ~ nulls | join(', ')
            ~ ', cast(null as varchar) as _file, cast(null as bigint) as _row) as no_rows where 1 = 0') }}
    {%- endif -%}
    {%- if format == 'parquet' -%}
        {%- set paths = [] -%}
        {%- for file in files -%}{%- do paths.append(retention.sql_string(file['path'])) -%}{%- endfor -%}
        {{ return("(select * exclude (file_row_number, _file), substr(_file, "
            ~ (retention.raw_folder() | length + 2) ~ ") as _file, file_row_number + 1 as _row"
            ~ " from read_parquet([" ~ paths | join(', ') ~ "], union_by_name = true,"
            ~ " filename = '_file', file_row_number = true)) as parquet_rows") }}
    {%- endif -%}
    {%- set selects = [] -%}
    {%- for file in files -%}
        {#- One scan per file, not parallel, so row_number() over () is the file's row order. -#}
        {%- do selects.append("select *, " ~ retention.sql_string(file['name']) ~ " as _file,"
            ~ " cast(row_number() over () as bigint) as _row from read_csv("
            ~ retention.sql_string(file['path']) ~ ", " ~ retention.csv_read_options(columns[file['path']])
            ~ ", ignore_errors = true) where " ~ retention.csv_every_column_read(columns[file['path']])) -%}
    {%- endfor -%}
    {{ return('(' ~ selects | join(' union all by name ') ~ ') as csv_rows') }}
{%- endmacro %}

{#-
    DuckDB: the file pattern a raw table is read from and the SQL relation
    that reads its readable rows, as {'pattern': ..., 'reader': ...} (used by
    the as_of_date check before the files are registered).
-#}
{% macro raw_file_reader(folder, table) -%}
    {%- set found = retention.raw_table_files(folder, table) -%}
    {%- set columns = retention.csv_file_columns(table, found['files']) if found['format'] == 'csv' else {} -%}
    {{ return({'pattern': found['pattern'],
               'reader': retention.raw_files_relation(table, found['files'], found['format'], columns)}) }}
{%- endmacro %}

{#-
    Read one CSV file as the build will, store its malformed lines in the temp
    table `malformed_table` (_file, _line, _malformed), and return what stops
    the build (a list of sentences; empty when the file is usable) and the
    counts, as {'problems', 'rows', 'malformed', 'malformed_lines'}.

    The boundary (README, "Malformed lines and unreadable files"):
      - a malformed line (too many or too few fields, bytes that are not valid
        in the encoding, a stray quote inside a value, a line over DuckDB's
        maximum size) is quarantined as `malformed_line`, with its line;
      - the file as a whole is refused when a required column is missing from
        its header, a quote is never closed (everything after it would be read
        as one value, and DuckDB drops such a tail without a word), its last
        line is incomplete (the file was cut off, so rows after it are lost),
        or the rows read plus the malformed lines do not add up to the records
        counted independently line by line.
    Line numbers are physical lines (what an editor shows); DuckDB numbers
    records, which differ after a value with a line break.
-#}
{% macro csv_file_problems(table, file, columns, index, malformed_table) -%}
    {%- set dialect = retention.csv_dialect() -%}
    {%- set problems = [] -%}
    {%- set required = retention.shop_contract()[table]['required'] -%}
    {%- set missing = required | reject('in', columns) | list -%}
    {%- if missing -%}
        {%- set hint = namespace(text='') -%}
        {%- if columns | length == 1 -%}
            {%- for other in [';', '\t', '|'] if other in columns[0] and hint.text == '' -%}
                {%- set hint.text = " The header looks " ~ ('tab' if other == '\t' else "'" ~ other ~ "'")
                    ~ "-separated: set csv_delimiter to " ~ ("'\\t'" if other == '\t' else "'" ~ other ~ "'") ~ "." -%}
            {%- endfor -%}
        {%- endif -%}
        {%- do problems.append(file['name'] ~ " line 1: the header lacks required column(s) " ~ missing | join(', ')
            ~ " (found: " ~ columns | join(', ') ~ ")." ~ hint.text
            ~ " Rename the columns in your export (see README, 'Bring your own data').") -%}
        {{ return({'problems': problems, 'rows': 0, 'malformed': 0, 'malformed_lines': []}) }}
    {%- endif -%}
    {%- set duplicated = [] -%}
    {%- for column in columns | unique -%}
        {%- if columns.count(column) > 1 -%}{%- do duplicated.append(column) -%}{%- endif -%}
    {%- endfor -%}
    {%- if duplicated -%}
        {%- do problems.append(file['name'] ~ " line 1: the header names column(s) " ~ duplicated | join(', ')
            ~ " more than once (column names are compared in lower case). Rename or drop the copies.") -%}
        {{ return({'problems': problems, 'rows': 0, 'malformed': 0, 'malformed_lines': []}) }}
    {%- endif -%}

    {%- set rejects = 'retention_rejects_' ~ table ~ '_' ~ index -%}
    {%- do run_query('drop table if exists temp.' ~ rejects ~ '; drop table if exists temp.' ~ rejects ~ '_scans') -%}
    {%- set rows = run_query(
        "select count(*) from read_csv(" ~ retention.sql_string(file['path']) ~ ", "
        ~ retention.csv_read_options(columns) ~ ", store_rejects = true, rejects_table = '" ~ rejects
        ~ "', rejects_scan = '" ~ rejects ~ "_scans') where " ~ retention.csv_every_column_read(columns)
        ).columns[0].values()[0] -%}

    {%- set quote = dialect['quote'] -%}
    {%- set escaped_quote = dialect['escape'] ~ quote -%}
    {%- set check -%}
        create or replace temp table retention_file_check as
        with
        lines as (
            -- row_number() over () streams in file order (a one-thread scan): no sort
            select cast(row_number() over () as bigint) as physical_line, line
            from read_csv({{ retention.sql_string(file['path']) }}, {{ retention.csv_line_scan_options() }})
        ),
        summary as materialized (
            -- one pass: counts, and the few lines that matter, those with an odd number of quotes
            -- (a quoted value opens or closes there) and blank ones
            select
                count(*) as line_count,
                count(line) as text_lines,
                max(case when line is not null then physical_line end) as last_text_line,
                coalesce(sum(quotes), 0) % 2 = 1 as has_open_quote,
                coalesce(list(physical_line order by physical_line) filter (where quotes % 2 = 1), []) as odd_lines,
                coalesce(list(physical_line) filter (where line is null), []) as blank_lines
            from (
                select
                    physical_line,
                    line,
                    coalesce(length(line) - length(replace(line, {{ retention.sql_string(quote) }}, '')), 0)
                    {%- if dialect['escape'] != quote and dialect['escape'] != '' %}
                    - coalesce((length(line) - length(replace(line, {{ retention.sql_string(escaped_quote) }}, ''))) / 2, 0)
                    {%- endif %} as quotes
                from lines
            ) as counted
        ),
        odd as (
            select unnest(odd_lines) as physical_line, generate_subscripts(odd_lines, 1) as k
            from summary
        ),
        spans as (
            -- a value quoted over several lines opens on an odd line and closes on the next one
            -- (never: the end of the file); lines (open_line, close_line] continue its record
            select
                opened.physical_line as open_line,
                coalesce(closed.physical_line, summary.line_count) as close_line
            from odd as opened
            cross join summary
            left join odd as closed on closed.k = opened.k + 1
            where opened.k % 2 = 1
        ),
        blanks as (
            select unnest(blank_lines) as physical_line from summary
        ),
        spans_counted as (
            select
                spans.open_line,
                spans.close_line,
                spans.close_line - spans.open_line as continued_lines,
                count(blanks.physical_line) as blank_continued_lines
            from spans
            left join blanks
                on blanks.physical_line > spans.open_line and blanks.physical_line <= spans.close_line
            group by 1, 2
        ),
        spans_numbered as (
            -- DuckDB numbers records (blank lines included): a physical line minus the lines
            -- that continued earlier records
            select
                *,
                open_line - coalesce(sum(continued_lines) over (
                    order by open_line rows between unbounded preceding and 1 preceding), 0) as open_record
            from spans_counted
        ),
        rejected as (
            select
                cast(line as bigint) as record_number,
                min(cast(error_type as varchar)) as error_type,
                min(error_message) as error_message
            from temp.{{ rejects }}
            group by 1
        ),
        totals as (
            select
                summary.text_lines
                - coalesce((select sum(continued_lines - blank_continued_lines) from spans_numbered), 0)
                - {{ 1 if dialect['header'] else 0 }} as expected_rows,
                summary.has_open_quote,
                case when summary.has_open_quote then summary.odd_lines[-1] end as open_quote_line,
                coalesce(
                    (select max(open_record) from spans_numbered
                        where open_line < summary.last_text_line and close_line >= summary.last_text_line),
                    summary.last_text_line - coalesce(
                        (select sum(continued_lines) from spans_numbered where close_line < summary.last_text_line), 0)
                ) as last_record
            from summary
        )
        select
            'malformed' as kind,
            rejected.record_number + coalesce(
                (select sum(continued_lines) from spans_numbered where open_record < rejected.record_number), 0)
                as line_number,
            lower(rejected.error_type) || ': ' || rejected.error_message as reason,
            rejected.record_number = totals.last_record
                and rejected.error_type in ('MISSING COLUMNS', 'UNQUOTED VALUE') as is_cut_off,
            cast(null as bigint) as expected_rows,
            cast(null as boolean) as has_open_quote,
            cast(null as bigint) as open_quote_line
        from rejected
        cross join totals
        union all
        select 'summary', null, null, null, expected_rows, has_open_quote, open_quote_line
        from totals
    {%- endset -%}
    {%- do run_query(check) -%}
    {%- set summary = run_query(
        "select expected_rows, has_open_quote, open_quote_line,"
        " (select count(*) from retention_file_check where kind = 'malformed')"
        " from retention_file_check where kind = 'summary'").rows[0] -%}
    {%- set malformed_count = summary[3] -%}
    {%- set malformed_lines = run_query(
        "select line_number, reason, is_cut_off from retention_file_check where kind = 'malformed'"
        " order by line_number limit 5").rows -%}
    {%- set cut_off = run_query(
        "select line_number, reason from retention_file_check where kind = 'malformed' and is_cut_off").rows -%}
    {%- if summary[1] -%}
        {%- do problems.append(file['name'] ~ " line " ~ summary[2] ~ ": a quoted value opened on this line is never closed,"
            ~ " so everything after it would be read as one value. Close or double the quote (a " ~ quote
            ~ " inside a quoted value is written " ~ quote ~ quote ~ "), or re-export the file; if the file is"
            ~ " not quoted with " ~ quote ~ ", set csv_quote.") -%}
    {%- elif cut_off | length > 0 -%}
        {%- do problems.append(file['name'] ~ " line " ~ cut_off[0][0] ~ ": the last line is incomplete ("
            ~ cut_off[0][1] ~ "): the file looks cut off, so rows after it are missing. Copy or export the"
            ~ " whole file again.") -%}
    {%- elif rows + malformed_count != summary[0] -%}
        {%- do problems.append(file['name'] ~ ": DuckDB read " ~ rows ~ " rows and " ~ malformed_count
            ~ " malformed lines, but the file holds " ~ summary[0] ~ " records (counted line by line), so "
            ~ (summary[0] - rows - malformed_count) | abs ~ " would be lost. Check the file's quoting and line"
            ~ " endings against the csv_* vars, or re-export it.") -%}
    {%- endif -%}
    {%- do run_query(
        "insert into temp." ~ malformed_table ~ " select " ~ retention.sql_string(file['name'])
        ~ ", line_number, reason from retention_file_check where kind = 'malformed'") -%}
    {%- do run_query('drop table if exists temp.' ~ rejects ~ '; drop table if exists temp.' ~ rejects ~ '_scans') -%}
    {{ return({'problems': problems, 'rows': rows, 'malformed': malformed_count, 'malformed_lines': malformed_lines}) }}
{%- endmacro %}

{% macro duckdb__register_raw_files(raw_path, tables) -%}
    {%- set folder = retention.raw_folder() -%}
    {%- set schema = var('raw_schema', none) or 'raw' -%}
    {%- set problems = [] -%}
    {%- set notes = [] -%}
    {%- set readers = {} -%}
    {#- 1. Read and check every file; nothing is written to the database yet. -#}
    {%- for table in tables -%}
        {%- set found = retention.raw_table_files(folder, table) -%}
        {%- set columns = {} -%}
        {%- set counts = namespace(rows=0, malformed=0) -%}
        {%- set malformed_table = 'retention_malformed_' ~ table -%}
        {%- if found['format'] == 'csv' -%}
            {%- do run_query('create or replace temp table ' ~ malformed_table
                ~ ' (_file varchar, _line bigint, _malformed varchar)') -%}
            {%- set columns = retention.csv_file_columns(table, found['files']) -%}
            {%- for file in found['files'] -%}
                {%- set checked = retention.csv_file_problems(table, file, columns[file['path']], loop.index0, malformed_table) -%}
                {%- do problems.extend(checked['problems']) -%}
                {%- set counts.rows = counts.rows + checked['rows'] -%}
                {%- set counts.malformed = counts.malformed + checked['malformed'] -%}
                {%- if checked['malformed'] > 0 -%}
                    {%- set shown = [] -%}
                    {%- for line in checked['malformed_lines'] -%}
                        {%- do shown.append('line ' ~ line[0] ~ ' (' ~ line[1].split(':')[0] ~ ')') -%}
                    {%- endfor -%}
                    {%- do notes.append(file['name'] ~ ": " ~ checked['malformed'] ~ " malformed line(s), "
                        ~ shown | join(', ') ~ (', ...' if checked['malformed'] > 5 else '')) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- elif found['files'] | length > 0 -%}
            {#- Parquet: each file must have the required columns (an unreadable file fails here, named by DuckDB). -#}
            {%- set paths = [] -%}
            {%- for file in found['files'] -%}{%- do paths.append(retention.sql_string(file['path'])) -%}{%- endfor -%}
            {%- set schemas = {} -%}
            {%- for row in run_query("select file_name, lower(name) from parquet_schema([" ~ paths | join(', ') ~ "])").rows -%}
                {%- do schemas.setdefault(row[0], []).append(row[1]) -%}
            {%- endfor -%}
            {%- for file in found['files'] -%}
                {%- set missing = retention.shop_contract()[table]['required'] | reject('in', schemas.get(file['path'], [])) | list -%}
                {%- if missing -%}
                    {%- do problems.append(file['name'] ~ ": lacks required column(s) " ~ missing | join(', ')
                        ~ " (found: " ~ schemas.get(file['path'], [])[1:] | join(', ')
                        ~ "). Rename the columns in your export (see README, 'Bring your own data').") -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
        {%- do readers.update({table: {
            'found': found,
            'relation': retention.raw_files_relation(table, found['files'], found['format'], columns),
            'malformed_table': malformed_table if found['format'] == 'csv' else none,
            'malformed': counts.malformed,
        }}) -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            "Cannot read the raw files in " ~ folder ~ "; nothing was built and the published marts were not changed:\n  - "
            ~ problems | join('\n  - ')
            ~ ("\nAlso (these lines alone would be quarantined as malformed_line, not stop the build):\n  - "
                ~ notes | join('\n  - ') if notes else '')
            ~ "\nFix or replace the file(s) and run the build again.") }}
    {%- endif -%}
    {#- 2. Every file is usable: (re)create the raw views, in one transaction. -#}
    {%- set statements = ['create schema if not exists ' ~ schema] -%}
    {%- for table in tables -%}
        {%- set reader = readers[table] -%}
        {%- set existing = adapter.get_relation(database=target.database, schema=schema, identifier=table) -%}
        {%- if existing is not none -%}
            {%- do statements.append('drop ' ~ existing.type ~ ' if exists ' ~ schema ~ '.' ~ table) -%}
        {%- endif -%}
        {%- set relation = 'select * from ' ~ reader['relation'] -%}
        {%- if reader['malformed_table'] is not none -%}
            {%- do statements.append('create or replace table ' ~ schema ~ '.' ~ table ~ '__malformed_lines as'
                ~ ' select * from temp.' ~ reader['malformed_table']) -%}
            {%- set relation = relation ~ ' union all by name select * from ' ~ schema ~ '.' ~ table ~ '__malformed_lines' -%}
        {%- else -%}
            {%- do statements.append('drop table if exists ' ~ schema ~ '.' ~ table ~ '__malformed_lines') -%}
        {%- endif -%}
        {%- do statements.append('create view ' ~ schema ~ '.' ~ table ~ ' as ' ~ relation) -%}
        {{ log("raw." ~ table ~ " <- " ~ reader['found']['pattern'] ~ " (" ~ reader['found']['files'] | length ~ " non-empty file(s)"
            ~ (", " ~ reader['malformed'] ~ " malformed line(s) to quarantine" if reader['malformed'] else "") ~ ")", info=true) }}
    {%- endfor -%}
    {%- for note in notes -%}
        {{ log("  " ~ note ~ " -> quarantined as malformed_line (stg_shop__quarantined_rows)", info=true) }}
    {%- endfor -%}
    {%- do statements.append('commit') -%}
    {{ return(statements | join(';\n')) }}
{%- endmacro %}
