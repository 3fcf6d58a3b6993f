{#-
    Quality gate of one raw source (README, "Quality gates"), on its
    base_shop__<table>_checked model: the share of its raw rows quarantined for
    a defect, i.e. every reason but the version ones (exact_duplicate,
    key_duplicate, superseded_line: their data lives on in the kept version).
      - above quarantine_error_share (default 0.5): the test errors with the
        counts and the top reasons, so nothing downstream of the source is
        built and nothing is published (`dbt build` skips the dependants);
      - above quarantine_warn_share (default 0.01): it warns, with the same
        message in the log;
      - otherwise it passes.
    "Every order quarantined" can never pass silently.
-#}
{% test quarantine_share(model, source_table) %}
{{ config(severity='warn') }}
{%- set warn_share = var('quarantine_warn_share') -%}
{%- set error_share = var('quarantine_error_share') -%}
{%- set version_reasons = ['exact_duplicate', 'key_duplicate', 'superseded_line'] -%}
{%- if execute -%}
    {%- set counts = run_query(
        "select quarantine_reason, count(*) from " ~ model ~ " group by quarantine_reason"
        ~ " order by count(*) desc, quarantine_reason").rows -%}
    {%- set totals = namespace(raw=0, lost=0, top=[]) -%}
    {%- for reason, rows in counts -%}
        {%- set totals.raw = totals.raw + rows -%}
        {%- if reason is not none and reason not in version_reasons -%}
            {%- set totals.lost = totals.lost + rows -%}
            {%- if totals.top | length < 3 -%}
                {%- do totals.top.append(reason ~ ' ' ~ '{:,}'.format(rows | int)) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if totals.raw > 0 and totals.lost / totals.raw > warn_share -%}
        {%- set message = source_table ~ ": " ~ '{:,}'.format(totals.lost | int) ~ " of "
            ~ '{:,}'.format(totals.raw | int) ~ " raw rows (" ~ '{:.1%}'.format(totals.lost / totals.raw)
            ~ ") are quarantined; top reasons: " ~ totals.top | join(', ')
            ~ ". See marts.fct_source_quality and staging.stg_shop__quarantined_rows (source_file,"
            ~ " source_row) for the rows." -%}
        {%- if totals.lost / totals.raw > error_share -%}
            {{ exceptions.raise_compiler_error(
                "Quality gate: " ~ message ~ " That is above quarantine_error_share (" ~ error_share
                ~ "), so nothing that depends on " ~ source_table ~ " was built or published. Fix the export"
                ~ " (README, 'Bring your own data'), or raise quarantine_error_share if this is expected.") }}
        {%- endif -%}
        {%- do exceptions.warn("Quality gate: " ~ message ~ " That is above quarantine_warn_share ("
            ~ warn_share ~ ").") -%}
    {%- endif -%}
{%- endif %}

with

outcomes as (

    select
        count(*) as raw_rows,
        sum(case
            when quarantine_reason is not null
                and quarantine_reason not in ('{{ version_reasons | join("', '") }}')
                then 1
            else 0
        end) as quarantined_rows
    from {{ model }}

)

select
    '{{ source_table }}' as source_table,
    raw_rows,
    quarantined_rows
from outcomes
where quarantined_rows > {{ warn_share }} * raw_rows

{% endtest %}
