{#-
    on-run-start: stop before any table changes when a var makes no sense,
    saying which var and what to use instead.
-#}
{% macro validate_vars() -%}
    {%- if execute -%}
        {%- set problems = [] -%}
        {%- for name in ['churn_horizon_days', 'snapshot_every_days', 'max_training_snapshots',
                         'active_lookback_days', 'activity_horizon_days', 'funnel_window_days',
                         'session_gap_minutes'] -%}
            {%- set value = var(name) -%}
            {%- if value is not number or value != value | int or value < 1 -%}
                {%- do problems.append(name ~ ' must be a whole number >= 1 (got ' ~ value ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('min_history_days') is not number or var('min_history_days') < 0 -%}
            {%- do problems.append('min_history_days must be a whole number >= 0 (got ' ~ var('min_history_days') ~ ')') -%}
        {%- endif -%}
        {%- if var('max_training_snapshots') is number and var('max_training_snapshots') > 200 -%}
            {%- do problems.append('max_training_snapshots must be <= 200 (got ' ~ var('max_training_snapshots') ~ ')') -%}
        {%- endif -%}
        {%- for name in ['feature_windows_days', 'trend_windows_days'] -%}
            {%- set windows = var(name) -%}
            {%- if windows is string or windows is not iterable or windows | length == 0
                or windows | reject('number') | list | length > 0
                or windows | select('lt', 1) | list | length > 0 -%}
                {%- do problems.append(name ~ ' must be a non-empty list of whole numbers >= 1 (got ' ~ windows ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('churn_definition') not in ['purchase', 'activity'] -%}
            {%- do problems.append("churn_definition must be 'purchase' or 'activity' (got '" ~ var('churn_definition') ~ "')") -%}
        {%- endif -%}
        {%- if var('churn_definition') == 'activity' and not var('enable_events') -%}
            {%- do problems.append("churn_definition 'activity' needs the events source; set enable_events: true or use 'purchase'") -%}
        {%- endif -%}
        {%- set as_of = var('as_of_date', none) -%}
        {%- if as_of is not none -%}
            {%- if not modules.re.match('^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', as_of | string) -%}
                {%- do problems.append("as_of_date must be a date like 2024-06-30 (got '" ~ as_of ~ "')") -%}
            {%- endif -%}
        {%- endif -%}
        {#- incremental loading (docs/incremental.md) -#}
        {%- set lookback = var('incremental_lookback_days') -%}
        {%- if lookback is not number or lookback != lookback | int or lookback < 0 -%}
            {%- do problems.append('incremental_lookback_days must be a whole number >= 0 (got ' ~ lookback ~ ')') -%}
        {%- endif -%}
        {%- if problems -%}
            {{ exceptions.raise_compiler_error(
                "Invalid configuration, nothing was built:\n  - " ~ problems | join('\n  - ')
                ~ "\nFix the var(s) in dbt_project.yml or on the command line (--vars).") }}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
