{#-
    Features for every customer with any activity before a cutoff, one row per
    customer x cutoff of the churn spine. The features themselves are defined
    once, in macros/definitions/snapshot_features.sql (point-in-time rule:
    only days strictly before the cutoff are read).

    At scale the one aggregate holds every customer x cutoff group at once (8.9M
    groups of ~70 sums at 1M customers), so on DuckDB the table is built one
    cutoff per statement (macros/materializations/batched_table.sql).
-#}
{{ config(
    materialized='batched_table' if target.type == 'duckdb' else 'table',
    batches={'values_from': 'int_cutoffs_generated', 'column': 'cutoff_date', 'per_batch': 1},
) }}
{{ retention.snapshot_features(cutoffs=ref('int_cutoffs_generated')) }}
