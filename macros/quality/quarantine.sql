{#-
    Latest instant a raw timestamp may have: the build's start plus a tolerance
    for clock skew. Anything later is quarantined as `future_timestamp`.
-#}
{% macro max_valid_timestamp() -%}
    cast({{ dbt.dateadd(
        'hour',
        var('future_tolerance_hours'),
        "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)"
    ) }} as timestamp)
{%- endmacro %}

{#-
    Load order, latest first, as an ORDER BY list: the later file (files are
    deliveries, loaded in path order), then the later row in the file. Rows
    without a load position (demo seeds, a raw_schema table without _file and
    _row) fall back to their values, compared as text column by column in
    `fallback` order, greatest first: deterministic and documented, though
    arbitrary (README, "Duplicates and re-sends"). Never a hash.
-#}
{% macro load_order_desc(fallback) -%}
    source_file desc nulls last, source_row desc nulls last
    {%- for column in fallback -%}, {{ column }} desc nulls last{%- endfor -%}
{%- endmacro %}

{#-
    The raw_row_hash inside a raw_row_id (`<raw_row_hash>-<exact_copy_number>`, made by
    resolve_duplicates below), so that a checked table need not store both: events
    staging does not (a second 32-character string per row cost 2.0 s of its ~14 s at
    100k customers), and the quarantine reads every table's hash this way.
-#}
{% macro raw_row_hash_of(raw_row_id, exact_copy_number) -%}
    substr({{ raw_row_id }}, 1, length({{ raw_row_id }}) - length(cast({{ exact_copy_number }} as {{ dbt.type_string() }})) - 1)
{%- endmacro %}

{#-
    Give every raw row exactly one outcome. `checked_cte` has one row per raw
    row with `raw_row_hash`, its load position (`source_file`, `source_row`)
    and `row_reason` (null when the row itself is valid). On top of that:
      - a copy of a valid row that is not its latest identical copy in load
        order -> exact_duplicate;
      - among the remaining valid rows, every version of a natural key but the
        one with the latest `latest_by` (ties: the later row in load order,
        see load_order_desc) -> key_duplicate.
    Adds `exact_copy_number`, `raw_row_id` (unique per raw row),
    `key_version_number` (null for rows that are not valid first copies) and
    `quarantine_reason` (null = the row goes to staging).

    Emits two CTEs; the last, `resolved`, is the result. Duplicates are
    rare, so only rows that may have one are ranked with window functions.
    Candidates are found with one aggregate over a 64-bit hash per row
    (hash64: a number, so 100M distinct values group in memory where
    32-character strings spilled tens of GB): of its first key column when
    that is set, valid or not (copies of a row and versions of a key share
    it); otherwise of the key for a valid row, and of the key and `fallback`
    columns together for an invalid one (copies of one raw row agree on all
    of them, and so share their validity; a valid row's copies share its
    key). So the search reads that one column for most sources: the rest of
    the row, its checks and its parsed timestamp are computed only for rows
    without it (an events source without ids) and in the output pass (1.9 s
    against 2.9 s for the search at 100k customers). Every other row gets
    number 1 without a sort. (Ranking every row sorted whole rows twice:
    staging was 60% of a 1M-customer build.) Hashing the columns, not the
    md5 `raw_row_hash`, means the md5 is computed once per row, for the
    output, not in every pass. A repeated hash is only a candidate: the
    ranked part numbers rows on the real row hash and the real key columns,
    so a false match (a collision, or rows that agree on these columns but
    not on every raw column) cannot change an outcome, and every row of a
    repeated key or row hash is in the ranked part whenever one is.

    keyed_candidates (optional): a CTE with the columns of `checked_cte`
    holding exactly its rows whose first key column is set and hashes into
    `keyed_repeated_buckets`, which this macro emits before the caller's
    block (`{% call %}`): the repeated buckets when none holds a row without
    a key, else none. The caller builds them from the raw rows with a semi
    join on the raw key column, which DuckDB runs in the scan, below the
    md5 and the parsing (base_shop__events_checked). When a repeated bucket
    holds a row without a key, every repeated bucket is ranked from
    `checked_cte` as without keyed_candidates.
-#}
{% macro resolve_duplicates(checked_cte, natural_key, latest_by, fallback, keyed_candidates=none) -%}
    {#- One bucket per row: its first key column when that is set (copies of a row share
        it, and so do a key's versions); else a valid row's key, an invalid row's whole row
        (a valid row's copies share its key; an invalid row has no key). -#}
    {%- set key_column = natural_key[0] -%}
    {%- set keyless_bucket -%}
        case
            when row_reason is null then {{ retention.hash64(natural_key) }}
            else {{ retention.hash64(natural_key + fallback) }}
        end
    {%- endset -%}
    {%- set bucket -%}
        case
            when {{ key_column }} is not null then {{ retention.hash64([key_column]) }}
            else {{ keyless_bucket }}
        end
    {%- endset -%}
-- One aggregate over one 64-bit bucket per row. Hashes are never null. The rows with a key
-- column are bucketed from that column alone, so this pass computes nothing else for them.
-- With no repeated bucket the ranked part below is a semi join against an empty table,
-- which DuckDB skips without reading the rows.
repeated_buckets as (

    select
        hashed.bucket
        {%- if keyed_candidates %},
        max(hashed.is_keyless) = 1 as has_keyless_rows
        {%- endif %}
    from (
        select
            {{ retention.hash64([key_column]) }} as bucket,
            0 as is_keyless
        from {{ checked_cte }}
        where {{ key_column }} is not null

        union all

        select
            {{ keyless_bucket }} as bucket,
            1 as is_keyless
        from {{ checked_cte }}
        where {{ key_column }} is null
    ) as hashed
    group by hashed.bucket
    having count(*) > 1

),
{%- if keyed_candidates %}

-- The repeated buckets when none holds a row without a key: `keyed_candidates` (the
-- caller's CTEs below) ranks the rows of these from the raw rows with the same key.
keyed_repeated_buckets as (

    select repeated_buckets.bucket
    from repeated_buckets
    where (
        select count(*) from repeated_buckets as with_keyless
        where with_keyless.has_keyless_rows
    ) = 0

),
{%- endif %}
{%- if caller is defined %}
{{ caller() }}
{%- endif %}

resolved as (

    select
        *,
        case
            when row_reason is not null then row_reason
            when exact_copy_number > 1 then 'exact_duplicate'
            when key_version_number > 1 then 'key_duplicate'
        end as quarantine_reason
    from (
        select
            *,
            cast(1 as {{ dbt.type_int() }}) as exact_copy_number,
            concat(raw_row_hash, '-1') as raw_row_id,
            cast(case when row_reason is null then 1 end as {{ dbt.type_int() }}) as key_version_number
        from {{ checked_cte }}
        where {{ bucket }} not in (select repeated_buckets.bucket from repeated_buckets)

        union all

        select
            *,
            case
                when row_reason is null and exact_copy_number = 1
                    then cast(row_number() over (
                        partition by
                            {% for column in natural_key %}{{ column }}, {% endfor -%}
                            row_reason is null and exact_copy_number = 1
                        order by {% if latest_by %}{{ latest_by }} desc, {% endif %}{{ retention.load_order_desc(fallback) }}
                    ) as {{ dbt.type_int() }})
            end as key_version_number
        from (
            select
                *,
                concat(raw_row_hash, '-', cast(exact_copy_number as {{ dbt.type_string() }})) as raw_row_id
            from (
                select
                    *,
                    cast(row_number() over (
                        partition by raw_row_hash order by {{ retention.load_order_desc([]) }}
                    ) as {{ dbt.type_int() }}) as exact_copy_number
                from (
                    {%- if keyed_candidates %}
                    {# The rows of keyed_repeated_buckets, made by the caller from the raw
                    rows with those keys. #}
                    select * from {{ keyed_candidates }}
                    union all
                    {# Otherwise (a repeated bucket holds a row without a key: its bucket
                    comes from the parsed row) every repeated bucket is ranked from the
                    checked rows, and `keyed_candidates` is empty. With none, this semi join
                    has an empty side, which DuckDB skips without reading the rows. #}
                    select * from {{ checked_cte }}
                    where {{ bucket }} in (
                        select repeated_buckets.bucket from repeated_buckets
                        where (
                            select count(*) from repeated_buckets as with_keyless
                            where with_keyless.has_keyless_rows
                        ) > 0
                    )
                    {%- else %}
                    select * from {{ checked_cte }}
                    where {{ bucket }} in (select repeated_buckets.bucket from repeated_buckets)
                    {%- endif %}
                ) as candidates
            ) as copies_numbered
        ) as ids_assigned
    ) as ranked

)
{%- endmacro %}

{#-
    Natural-key expressions for rows whose key column may be missing: each of
    `columns`, but only where `key_column` is null (rows with a key are then
    keyed by it alone). Use as resolve_duplicates([key_column] + this).
-#}
{% macro when_null_key(key_column, columns) -%}
    {%- set expressions = [] -%}
    {%- for column in columns -%}
        {%- do expressions.append('case when ' ~ key_column ~ ' is null then ' ~ column ~ ' end') -%}
    {%- endfor -%}
    {{ return(expressions) }}
{%- endmacro %}
