{#-
    The churn spine's point-in-time features at each campaign's contact days
    (issue 18): one row per contacted (or held-out) customer x contact day
    before as_of_date, with the same columns as int_snapshots_featurized,
    computed by the same macro (macros/definitions/snapshot_features.sql) from
    days strictly before the contact day. cutoff_date is the contact day; join
    int_contacts_outcomes on customer_id and contacted_date = cutoff_date.
-#}
{{ config(enabled=var('enable_contacts')) }}
{%- set contact_days -%}
    (
        select distinct contacts.contacted_date as cutoff_date
        from {{ ref('stg_shop__contacts') }} as contacts
        where contacts.contacted_date < ({{ retention.build_as_of_date() }})
    )
{%- endset -%}
{{ retention.snapshot_features(cutoffs=contact_days, customers=ref('stg_shop__contacts')) }}
