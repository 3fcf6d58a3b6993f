{#-
    on-run-start: stop before any table changes when a var makes no sense,
    saying which var and what to use instead. It runs before the seeds and
    before raw files are registered, so a failure here changes nothing.
-#}
{% macro validate_vars() -%}
    {%- if execute -%}
        {%- set problems = [] -%}
        {#- ---------- whole numbers with a lower bound (bools are numbers in Jinja: rejected) -#}
        {%- set minimums = {
            'churn_horizon_days': 1, 'snapshot_every_days': 1, 'max_training_snapshots': 1,
            'active_lookback_days': 1, 'activity_horizon_days': 1, 'funnel_window_days': 1,
            'session_gap_minutes': 1, 'min_history_days': 0, 'churn_min_labelled_rows': 1,
            'churn_min_class_rows': 1, 'churn_max_training_rows': 1, 'clv_horizon_days': 1,
            'min_group_size': 1, 'contact_cooldown_days': 0, 'cohort_max_weeks': 1,
            'cohort_max_months': 1, 'recommendations_per_customer': 1,
            'recommendation_popularity_days': 1, 'recommendation_min_pair_customers': 1,
            'recommendation_horizon_days': 1, 'recommendation_validation_cutoffs': 1,
            'churn_seed': 0, 'recommendation_seed': 0, 'churn_validation_origins': 1,
            'churn_btyd_max_fit_customers': 100, 'churn_max_training_customers': 1000,
            'uplift_horizon_days': 1, 'uplift_bootstrap_rounds': 100, 'uplift_seed': 0,
        } -%}
        {%- for name, minimum in minimums.items() -%}
            {%- set value = var(name) -%}
            {%- if value is boolean or value is not number or value != value | int or value < minimum -%}
                {%- do problems.append(name ~ ' must be a whole number >= ' ~ minimum ~ ' (got ' ~ value ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('max_training_snapshots') is number and var('max_training_snapshots') > 200 -%}
            {%- do problems.append('max_training_snapshots must be <= 200 (got ' ~ var('max_training_snapshots') ~ ')') -%}
        {%- endif -%}
        {#- ---------- amounts: numbers >= 0 -#}
        {%- for name in ['future_tolerance_hours', 'line_total_tolerance', 'offer_cost_discount', 'offer_cost_perk',
                         'offer_cost_email', 'retention_budget'] -%}
            {%- set value = var(name) -%}
            {%- if value is boolean or value is not number or value < 0 -%}
                {%- do problems.append(name ~ ' must be a number >= 0 (got ' ~ value ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {#- ---------- shares and probabilities -#}
        {%- set uplift = var('retention_uplift') -%}
        {%- if uplift is boolean or uplift is not number or uplift <= 0 or uplift > 1 -%}
            {%- do problems.append('retention_uplift must be a share in (0, 1] (got ' ~ uplift ~ ')') -%}
        {%- endif -%}
        {%- set control = var('control_share') -%}
        {%- if control is boolean or control is not number or control < 0 or control >= 1 -%}
            {%- do problems.append('control_share must be a share in [0, 1) (got ' ~ control ~ ')') -%}
        {%- endif -%}
        {%- set high = var('high_risk_threshold') -%}
        {%- set medium = var('medium_risk_threshold') -%}
        {%- if high is boolean or medium is boolean or high is not number or medium is not number
            or not (0 < medium < high < 1) -%}
            {%- do problems.append('risk thresholds must satisfy 0 < medium_risk_threshold < high_risk_threshold < 1'
                ~ ' (got medium ' ~ medium ~ ', high ' ~ high ~ ')') -%}
        {%- endif -%}
        {#- ---------- lists -#}
        {%- for name in ['feature_windows_days', 'trend_windows_days'] -%}
            {%- set windows = var(name) -%}
            {%- if windows is string or windows is not iterable or windows | length == 0
                or windows | reject('number') | list | length > 0
                or windows | select('lt', 1) | list | length > 0 -%}
                {%- do problems.append(name ~ ' must be a non-empty list of whole numbers >= 1 (got ' ~ windows ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set choices = {
            'churn_candidates': ['logistic_regression', 'hist_gradient_boosting', 'keras_mlp',
                                 'ensemble_mean', 'knn', 'linear_svm', 'random_forest'],
            'recommendation_risk_tiers': ['high', 'medium', 'low'],
            'recommendation_candidates': ['popularity_global', 'popularity_category', 'popularity_recent',
                                          'co_occurrence', 'als', 'buy_again', 'blend'],
            'uplift_learners': ['t_learner', 'x_learner'],
        } -%}
        {%- set extras = var('churn_report_only_candidates') -%}
        {%- if extras is string or extras is not iterable
            or extras | reject('in', choices['churn_candidates']) | list | length > 0 -%}
            {%- do problems.append('churn_report_only_candidates must be a list from '
                ~ choices['churn_candidates'] | join(', ') ~ ' (got ' ~ extras ~ ')') -%}
        {%- endif -%}
        {%- for name, allowed in choices.items() -%}
            {%- set values = var(name) -%}
            {%- if values is string or values is not iterable or values | length == 0
                or values | reject('in', allowed) | list | length > 0 -%}
                {%- do problems.append(name ~ ' must be a non-empty list from ' ~ allowed | join(', ')
                    ~ ' (got ' ~ values ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set event_types = var('event_types') -%}
        {%- if event_types is string or event_types is not iterable or event_types | length == 0
            or event_types | reject('string') | list | length > 0 -%}
            {%- do problems.append('event_types must be a non-empty list of event names (got ' ~ event_types ~ ')') -%}
        {%- endif -%}
        {#- ---------- one of a few words -#}
        {%- set words = {
            'churn_definition': ['purchase', 'activity'],
            'churn_calibration': ['auto', 'none', 'prior_shift', 'sigmoid', 'isotonic', 'btyd_blend'],
            'churn_final_model': ['auto', 'refit', 'validated'],
            'churn_on_insufficient_labels': ['error', 'skip'],
            'recommend_owned_products': ['learned', 'always', 'never'],
        } -%}
        {%- for name, allowed in words.items() -%}
            {%- if var(name) not in allowed -%}
                {%- do problems.append(name ~ " must be one of '" ~ allowed | join("', '")
                    ~ "' (got '" ~ var(name) ~ "')") -%}
            {%- endif -%}
        {%- endfor -%}
        {#- ---------- switches: the string 'false' would count as true -#}
        {%- for name in ['enable_customers', 'enable_order_items', 'enable_products', 'enable_events',
                         'enable_contacts', 'churn_use_btyd', 'churn_score_all_candidates',
                         'publish_marts', 'enable_recommendations'] -%}
            {%- if var(name) is not boolean -%}
                {%- do problems.append(name ~ ' must be true or false, unquoted (got ' ~ var(name) ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('churn_definition') == 'activity' and not var('enable_events') -%}
            {%- do problems.append("churn_definition 'activity' needs the events source; set enable_events: true or use 'purchase'") -%}
        {%- endif -%}
        {%- if var('raw_path', none) is not none and var('raw_path') is not string -%}
            {%- do problems.append('raw_path must be a folder path (got ' ~ var('raw_path') ~ ')') -%}
        {%- endif -%}
        {%- set as_of = var('as_of_date', none) -%}
        {%- if as_of is not none -%}
            {%- if not modules.re.match('^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', as_of | string) -%}
                {%- do problems.append("as_of_date must be a date like 2024-06-30 (got '" ~ as_of ~ "')") -%}
            {%- endif -%}
        {%- endif -%}
        {%- set value_per_order = var('value_per_order', none) -%}
        {%- if value_per_order is not none and (value_per_order is boolean or value_per_order is not number or value_per_order <= 0) -%}
            {%- do problems.append('value_per_order must be a number > 0, or null for the mean order amount (got ' ~ value_per_order ~ ')') -%}
        {%- endif -%}
        {#- quality gates (README, "Quality gates") -#}
        {%- set warn_share = var('quarantine_warn_share') -%}
        {%- set error_share = var('quarantine_error_share') -%}
        {%- if warn_share is boolean or error_share is boolean or warn_share is not number or error_share is not number
            or not (0 <= warn_share <= error_share <= 1) -%}
            {%- do problems.append('quality gates must satisfy 0 <= quarantine_warn_share <= quarantine_error_share <= 1'
                ~ ' (got warn ' ~ warn_share ~ ', error ' ~ error_share ~ ')') -%}
        {%- endif -%}
        {#- the CSV dialect (README, "Reading CSV") -#}
        {%- for name in ['csv_delimiter', 'csv_quote', 'csv_escape'] -%}
            {%- set value = var(name) -%}
            {%- if value is not string or value | length > 4 or (name == 'csv_delimiter' and value | length == 0)
                or value in ['\n', '\r'] -%}
                {%- do problems.append(name ~ " must be a character such as ',' (up to 4; got '" ~ value ~ "')") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('csv_header') is not boolean -%}
            {%- do problems.append('csv_header must be true or false, unquoted (got ' ~ var('csv_header') ~ ')') -%}
        {%- endif -%}
        {%- if var('csv_encoding') not in ['utf-8', 'utf-16', 'latin-1'] -%}
            {%- do problems.append("csv_encoding must be one of 'utf-8', 'utf-16', 'latin-1' (got '" ~ var('csv_encoding') ~ "')") -%}
        {%- endif -%}
        {%- if var('csv_columns') is not mapping -%}
            {%- do problems.append('csv_columns must map a table to its column names, e.g. {orders: [order_id, customer_id, ordered_at]} (got ' ~ var('csv_columns') ~ ')') -%}
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
        {%- if as_of is not none -%}
            {%- do retention.validate_as_of_date(as_of | string) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    as_of_date must lie in the data: after its first day (so something comes
    before the scoring cutoff) and at most the day after its last order or
    event (the default; later, the missing days would read as inactivity and
    every customer would drift towards churned). One aggregate over the raw
    timestamps, read where the build will read them (files, seed CSV or the raw
    schema), before anything is written. Timestamps past the build start (plus
    future_tolerance_hours) are ignored, as staging quarantines them.
-#}
{% macro validate_as_of_date(as_of) -%}
    {%- set relations = {} -%}
    {%- for table, column in [('orders', 'ordered_at'), ('events', 'event_at')]
        if table == 'orders' or var('enable_events') -%}
        {%- set relation = retention.raw_relation_for_checks(table) -%}
        {%- if relation is not none -%}{%- do relations.update({column: relation}) -%}{%- endif -%}
    {%- endfor -%}
    {%- if relations | length == 0 -%}{{ return('') }}{%- endif -%}
    {%- set data_range -%}
        select
            cast(min(stamped_at) as date) as first_date,
            cast(max(stamped_at) as date) as last_date
        from (
            {%- for column, relation in relations.items() %}
            select {{ retention.to_utc_timestamp("nullif(trim(cast(" ~ column ~ " as " ~ dbt.type_string() ~ ")), '')") }} as stamped_at
            from {{ relation }}
            {% if not loop.last %}union all{% endif %}
            {%- endfor %}
        ) as stamps
        where stamped_at <= {{ retention.max_valid_timestamp() }}
    {%- endset -%}
    {%- set row = run_query(data_range).rows[0] -%}
    {%- if row[0] is none -%}{{ return('') }}{%- endif -%}
    {%- set first_date = row[0] | string -%}
    {%- set last_date = row[1] | string -%}
    {%- set default = (modules.datetime.date.fromisoformat(last_date) + modules.datetime.timedelta(days=1)) | string -%}
    {%- if as_of <= first_date or as_of > default -%}
        {{ exceptions.raise_compiler_error(
            "Invalid configuration, nothing was built:\n  - as_of_date " ~ as_of
            ~ " is outside the data, which runs from " ~ first_date ~ " to " ~ last_date
            ~ " (orders" ~ (" and events" if 'event_at' in relations else "") ~ "). Use a date from "
            ~ (modules.datetime.date.fromisoformat(first_date) + modules.datetime.timedelta(days=1)) | string
            ~ " to " ~ default ~ ", or leave as_of_date unset to score as of " ~ default ~ ".") }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    Where the as_of_date check reads a raw table before the build: the files
    under raw_path, the demo seed's CSV, or the table in raw_schema. None when
    there is nothing to read yet (the build then says what is missing).
-#}
{% macro raw_relation_for_checks(table) -%}
    {%- if var('raw_path', none) is not none and target.type == 'duckdb' -%}
        {{ return(retention.raw_file_reader(retention.raw_folder(), table)['reader']) }}
    {%- elif retention.using_demo_seeds() and target.type == 'duckdb' -%}
        {%- set seed = env_var('RETENTION_HOME', '.') ~ '/seeds/demo/raw_' ~ table ~ '.csv' -%}
        {%- if run_query("select count(*) from glob('" ~ seed ~ "')").columns[0].values()[0] > 0 -%}
            {{ return("read_csv('" ~ seed ~ "', header = true, all_varchar = true)") }}
        {%- endif -%}
    {%- endif -%}
    {%- set schema = var('raw_schema', none) or 'raw' -%}
    {{ return(adapter.get_relation(database=target.database, schema=schema, identifier=table)) }}
{%- endmacro %}
