{#-
    Events with a session key (macros/definitions/sessionized_events.sql).

    A view, read once per full build by int_customer_days_aggregated. As a
    table it wrote every clean event a second time (100M rows at 1M customers)
    only for that one model to read them back. An incremental customer-days
    run calls the macro itself with its touched customers, so the whole
    history of just those customers is re-sessionized, as the incremental
    table did (docs/incremental.md).
-#}
{{ config(materialized='view', enabled=var('enable_events')) }}
{{ retention.sessionized_events() }}
